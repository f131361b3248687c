package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// catalogKeys are the keys an addon of a catalog may carry (the normalized schema).
var catalogKeys = map[string]bool{
	"chart": true, "repository": true, "oci_namespace": true, "version": true, "release": true,
	"namespace": true, "values": true, "username": true, "password_env": true,
}

// catalogFile is the document WriteCatalog writes and LoadCatalogs reads.
type catalogFile struct {
	Addons []Addon `yaml:"addons"`
}

// LoadCatalogs reads and merges catalogs (catalog mode), in order. Each is a YAML mapping
// with an `addons:` list of the normalized schema (chart, repository, oci_namespace,
// version, release, and optionally namespace, values, username, password_env). The same
// release declared twice, in one catalog or across several, is an error naming both
// places. Every error is an *InputError.
func LoadCatalogs(paths []string) ([]Addon, error) {
	if len(paths) == 0 {
		return nil, inputErrorf(Position{}, "no catalog given")
	}
	var all []Addon
	var empty []string // catalogs whose `addons:` list is empty
	declared := map[string]Position{}
	read := map[string]bool{}
	for _, p := range paths {
		clean := filepath.Clean(p)
		if read[clean] {
			continue
		}
		read[clean] = true
		addons, err := loadCatalog(p)
		if err != nil {
			return nil, err
		}
		if len(addons) == 0 {
			empty = append(empty, p)
		}
		for _, a := range addons {
			key := strings.ToLower(a.Release)
			if first, ok := declared[key]; ok {
				return nil, inputErrorf(a.Source, "release %q is declared twice: %s and %s", a.Release, first, a.Source)
			}
			declared[key] = a.Source
			all = append(all, a)
		}
	}
	if len(all) == 0 {
		if len(empty) == 1 {
			return nil, inputErrorf(Position{File: empty[0]}, "the `addons:` list is empty: this catalog declares no addons")
		}
		return nil, inputErrorf(Position{File: empty[0]}, "the `addons:` list is empty, as in every catalog given (%s): no addons declared", strings.Join(empty, ", "))
	}
	return all, nil
}

func loadCatalog(path string) ([]Addon, error) {
	data, err := readInput(path, "catalog")
	if err != nil {
		return nil, err
	}
	docs, err := parseDocuments(path, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, inputErrorf(Position{File: path}, "a catalog is one YAML document with an `addons:` list; found %d documents", len(docs))
	}
	root := content(docs[0])
	list := lookup(root, "addons")
	if list == nil || content(list.val) == nil || (content(list.val).Kind != yaml.SequenceNode && !scalarNull(content(list.val))) {
		return nil, inputErrorf(nodePos(path, root), "a catalog needs an `addons:` list")
	}
	for _, p := range pairs(root) {
		if p.key.Value != "addons" {
			return nil, inputErrorf(nodePos(path, p.key), "unknown catalog key %q (a catalog holds only `addons:`)", p.key.Value)
		}
	}
	d := &discovery{file: path, data: data, seen: map[*yaml.Node]bool{}}
	seq := content(list.val)
	if seq.Kind != yaml.SequenceNode {
		return nil, nil
	}
	for i, item := range seq.Content {
		for _, p := range pairs(item) {
			if !catalogKeys[p.key.Value] {
				return nil, inputErrorf(nodePos(path, p.key), "%s: unknown key %q (catalog keys: chart, repository, oci_namespace, version, release, namespace, values, username, password_env)",
					addonLabel(i+1, scalar(dig(item, []string{"release"})), scalar(dig(item, []string{"chart"}))), p.key.Value)
			}
		}
		if err := d.add(item, i+1, appContext{}); err != nil {
			return nil, err
		}
	}
	return d.addons, nil
}

// MarshalCatalog renders addons in the catalog schema that LoadCatalogs reads. Passwords
// are never written (an addon keeps only password_env).
func MarshalCatalog(addons []Addon) ([]byte, error) {
	if addons == nil {
		addons = []Addon{}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(catalogFile{Addons: addons}); err != nil {
		return nil, fmt.Errorf("encode catalog: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode catalog: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteCatalog writes addons to path in the catalog schema, atomically (a temporary file
// in the same directory renamed into place).
func WriteCatalog(path string, addons []Addon) error {
	data, err := MarshalCatalog(addons)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write catalog %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write catalog %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write catalog %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write catalog %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write catalog %s: %w", path, err)
	}
	return nil
}
