package engine

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/airgap-charts/airgap-charts/config"
)

// LockSchemaVersion is the lock format this build writes and the newest it reads. Schema 2
// fingerprints each addon's inputs (schema 1 had one fingerprint for the whole lock, so a
// run narrowed by --only-addon needed a lock of its own); a schema 1 lock is read, its
// entries counted as made from other inputs.
const LockSchemaVersion = 2

// LockFileName is the lock's default name, beside the first input file.
const LockFileName = "airgap-charts.lock.yaml"

// Lock is what a run resolved and copied: per addon the chart version and archive digest,
// per image the digest its source reference resolved to and where it landed. It holds no
// secret. Written sorted, so two runs that saw the same sources write the same bytes.
type Lock struct {
	SchemaVersion int `yaml:"schema_version"`
	// Inputs is schema 1's fingerprint of the whole run: read, never written.
	Inputs string      `yaml:"inputs,omitempty"`
	Addons []LockAddon `yaml:"addons"`
}

// LockAddon is one addon of a lock.
type LockAddon struct {
	Name       string `yaml:"name"`
	Chart      string `yaml:"chart"`
	Repository string `yaml:"repository"`
	// Version is the chart version resolved (from a range, --latest or the newest).
	Version string `yaml:"version"`
	// Digest is the sha256 of the chart archive fetched from the repository.
	Digest string `yaml:"digest"`
	// Inputs fingerprints what the entry was made from (the addon, its values and
	// overrides, the destination and render settings): --locked refuses an entry made from
	// other inputs, and a run narrowed by --only-addon / --exclude-addons rewrites only its
	// addons' entries.
	Inputs string      `yaml:"inputs"`
	Images []LockImage `yaml:"images,omitempty"`
}

// LockImage is one image of a locked addon.
type LockImage struct {
	// Source is the reference as the chart renders it.
	Source string `yaml:"source"`
	// Digest is the manifest the source reference resolved to (the index of a multi-arch
	// image): what --locked pulls.
	Digest string `yaml:"digest"`
	// Platform and PlatformDigest are the platform chosen and its child manifest, the
	// one copied, when a platform was chosen.
	Platform       string `yaml:"platform,omitempty"`
	PlatformDigest string `yaml:"platform_digest,omitempty"`
	Destination    string `yaml:"destination"`
}

// LockError is a lock that cannot be used: a newer schema, another run's inputs, or a
// file that is not a lock. The CLI exits 2 on it.
type LockError struct {
	Path string
	Msg  string
}

func (e *LockError) Error() string { return "lock " + e.Path + ": " + e.Msg }

// inputError makes the CLI treat a LockError as bad input (exit 2).
func (e *LockError) inputError() error {
	return &config.InputError{Pos: config.Position{File: e.Path}, Msg: e.Msg, Err: e}
}

// ReadLock reads the lock at path; a missing file is (nil, nil). A lock from a newer
// schema, or one that does not parse, is an error naming the file.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l, ok := readLockFast(data)
	if !ok {
		if l, err = readLockYAML(path, data); err != nil {
			return nil, err
		}
	}
	if err := checkLockSchema(path, l.SchemaVersion); err != nil {
		return nil, err
	}
	return l, nil
}

// checkLockSchema refuses a lock from a newer schema, or one with no schema_version.
func checkLockSchema(path string, v int) error {
	switch {
	case v > LockSchemaVersion:
		return (&LockError{Path: path, Msg: fmt.Sprintf("written by a newer airgap-charts (lock schema %d; this build reads up to %d): upgrade, or remove the file to start a new lock",
			v, LockSchemaVersion)}).inputError()
	case v < 1:
		return (&LockError{Path: path, Msg: "not a lock file: no schema_version"}).inputError()
	}
	return nil
}

// WriteLock writes l to path atomically (a reader sees the old lock or the new one,
// never half of one), sorted, 0644.
func WriteLock(path string, l *Lock) error {
	data, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := config.WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return nil
}

const lockHeader = "# airgap-charts lock: the chart versions and image digests a sync resolved.\n" +
	"# Written by every sync; `sync --locked` runs exactly this. Do not edit by hand.\n"

// Marshal is the lock as written: a header comment and sorted YAML in a fixed block
// layout (appendLock).
func (l *Lock) Marshal() ([]byte, error) {
	c := l.sorted()
	if !lockStringsUTF8(&c) {
		return marshalLockYAML(&c)
	}
	return appendLock(make([]byte, 0, lockSize(&c)), &c), nil
}

// sorted is a copy of l as written: this schema, addons by name, images by source then
// destination, no schema 1 fingerprint.
func (l *Lock) sorted() Lock {
	c := *l
	c.SchemaVersion, c.Inputs = LockSchemaVersion, ""
	c.Addons = append([]LockAddon(nil), l.Addons...)
	slices.SortFunc(c.Addons, func(a, b LockAddon) int { return strings.Compare(a.Name, b.Name) })
	for i := range c.Addons {
		imgs := append([]LockImage(nil), c.Addons[i].Images...)
		slices.SortFunc(imgs, func(a, b LockImage) int {
			return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Destination, b.Destination))
		})
		c.Addons[i].Images = imgs
	}
	if c.Addons == nil {
		c.Addons = []LockAddon{}
	}
	return c
}

// addon is the lock's entry for the addon called name; nil when it has none.
func (l *Lock) addon(name string) *LockAddon {
	if l == nil {
		return nil
	}
	for i := range l.Addons {
		if l.Addons[i].Name == name {
			return &l.Addons[i]
		}
	}
	return nil
}

// image is the entry for source → destination; nil when there is none.
func (a *LockAddon) image(source, destination string) *LockImage {
	if a == nil {
		return nil
	}
	for i := range a.Images {
		if a.Images[i].Source == source && a.Images[i].Destination == destination {
			return &a.Images[i]
		}
	}
	return nil
}
