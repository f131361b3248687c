package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// runCacheFormat changes whenever an entry's meaning changes: older entries then miss.
const runCacheFormat = 2

// runCache remembers, per addon, what the chart stages made of the same inputs last run,
// under {output}/.cache/runs: the images the render yielded, and the rewritten archive and
// consumer overrides with their digests. A rerun with nothing changed skips render,
// extract, rewrite, the second render and the repack. An entry is used only when its key
// (a digest of every input) is the one computed now and the files it names are still there
// with the digests recorded; an unreadable entry is ignored with a warning.
type runCache struct {
	dir string
	log *zap.Logger
	// tool names the build: a rebuilt binary may render or rewrite differently.
	tool string
	// loaded is each entry read this run, by file: the chart prewarm and the addon share
	// one read (runcache_loaded.go).
	loaded sync.Map // string → *loadedEntry
	// seeds are entries given for this run (an import's, from its bundle), by file.
	seeds map[string][]byte
}

// seeded gives c the entries of seeds (JSON, by entry file).
func (c *runCache) seeded(seeds map[string][]byte) *runCache {
	c.seeds = seeds
	return c
}

func newRunCache(outputDir string, log *zap.Logger) *runCache {
	return &runCache{dir: filepath.Join(outputDir, ".cache", "runs"), log: log, tool: toolIdentity()}
}

// runCacheEntry is one addon's record.
type runCacheEntry struct {
	Format int    `json:"format"`
	Addon  string `json:"addon"`
	// Key digests the chart as rendered (archive and dependencies), the values, the render
	// settings and the build; Images and Fallbacks are valid for it.
	Key       string        `json:"key"`
	Images    []cachedImage `json:"images"`
	Fallbacks []string      `json:"fallbacks,omitempty"`
	// Package is the rewrite's output, valid for Key and the images' destinations.
	Package *cachedPackage `json:"package,omitempty"`
	// ArchiveKey digests the fetched archive and the inputs Key digests, when the chart
	// needed nothing from outside that archive (runcache_quick.go); Dependencies are then
	// its dependencies as resolved. Chart is the chart the archive holds.
	ArchiveKey   string              `json:"archive_key,omitempty"`
	Dependencies []stages.Dependency `json:"dependencies,omitempty"`
	Chart        *cachedChart        `json:"chart,omitempty"`

	// raw is the file's content as read (nil: not read from a file); an entry that would
	// be written with the same bytes is not written again.
	raw []byte
}

// cachedImage is a stages.FoundImage with its reference spelled out.
type cachedImage struct {
	Registry   string            `json:"registry"`
	Repository string            `json:"repository"`
	Tag        string            `json:"tag,omitempty"`
	Digest     string            `json:"digest,omitempty"`
	Raw        string            `json:"raw"`
	PodSpec    bool              `json:"pod_spec"`
	Where      []stages.Location `json:"where"`
	// AnnotationOnly: named only by the chart's artifacthub.io/images annotation.
	AnnotationOnly bool `json:"annotation_only,omitempty"`
}

// cachedPackage is what rewriteAndPackage wrote.
type cachedPackage struct {
	// Key digests the entry's Key and every image mapping the rewrite used.
	Key             string `json:"key"`
	Archive         string `json:"archive"`
	ArchiveDigest   string `json:"archive_digest"`
	Overrides       string `json:"overrides"`
	OverridesDigest string `json:"overrides_digest"`
	// ArchiveStamp and OverridesStamp are the files' stamps when last read and digested.
	ArchiveStamp   *fileStamp `json:"archive_stamp,omitempty"`
	OverridesStamp *fileStamp `json:"overrides_stamp,omitempty"`
	// PublicImages are the verification's findings for this archive (Allowed unset: it is
	// decided per run).
	PublicImages []PublicImage `json:"public_images,omitempty"`
	// ChartRef and Manifest: the manifest digest the archive had when pushed to (or found
	// at) ChartRef; a tag with that digest holds this archive.
	ChartRef string `json:"chart_ref,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	// Metadata is the archive's chart metadata as packaged (what a push's config is made
	// of): a hit needs the archive's bytes only, not the chart loaded again.
	Metadata *chart.Metadata `json:"metadata,omitempty"`
}

func (c *runCache) path(a config.Addon) string {
	id := sha256.Sum256([]byte(strings.Join([]string{a.Name(), a.Chart, strings.TrimRight(a.Repository, "/"), a.OCINamespace}, "\x00")))
	return filepath.Join(c.dir, hex.EncodeToString(id[:12])+".json")
}

// load returns a's entry, nil when there is none or it cannot be used.
func (c *runCache) load(a config.Addon, log *zap.Logger) *runCacheEntry {
	e, problem := c.readEntry(a)
	problem.log(log)
	return e
}

// entryProblem is why an entry file was ignored; zero: none.
type entryProblem struct {
	msg, file string
	err       error
}

func (p entryProblem) log(log *zap.Logger) {
	if p.msg != "" {
		log.Warn(p.msg, zap.String("file", p.file), zap.Error(p.err))
	}
}

// readEntry reads a's entry: nil when there is none or it cannot be used, with the
// problem to log when the file is there but unreadable or corrupt. A seed is used instead
// of a file that holds none for the seed's key; not on disk yet, it is written by the save.
func (c *runCache) readEntry(a config.Addon) (*runCacheEntry, entryProblem) {
	e, problem := c.readFile(a)
	if raw, ok := c.seeds[c.path(a)]; ok {
		var s runCacheEntry
		if err := json.Unmarshal(raw, &s); err == nil && s.Key != "" && (e == nil || e.Key != s.Key) {
			s.Format, s.Addon = runCacheFormat, a.Name()
			return &s, entryProblem{}
		}
	}
	return e, problem
}

func (c *runCache) readFile(a config.Addon) (*runCacheEntry, entryProblem) {
	p := c.path(a)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, entryProblem{}
	}
	if err != nil {
		return nil, entryProblem{"run cache entry unreadable; ignored", p, err}
	}
	var e runCacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, entryProblem{"run cache entry corrupt; ignored", p, err}
	}
	if e.Format != runCacheFormat || e.Addon != a.Name() || e.Key == "" {
		return nil, entryProblem{}
	}
	e.raw = data
	return &e, entryProblem{}
}

// save writes a's entry atomically; a failure only costs the next run its shortcut.
// An unchanged entry is left as it is.
func (c *runCache) save(a config.Addon, e *runCacheEntry, log *zap.Logger) {
	if e == nil {
		return
	}
	e.Format, e.Addon = runCacheFormat, a.Name()
	data, err := json.Marshal(e)
	if err == nil {
		if e.raw != nil && bytes.Equal(e.raw, data) {
			return // as read this run
		}
		if err = config.WriteCacheFile(c.path(a), data, 0o644); err == nil {
			e.raw = data
		}
	}
	if err != nil {
		log.Warn("run cache entry not written", zap.Error(err))
	}
}

// key digests what the render and extract see: the chart with its dependencies as
// resolved, the value layers, the render settings and the build.
func (c *runCache) key(ch *chart.Chart, layers []map[string]any, ro stages.RenderOptions, includeDeps bool) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "format %d\x00tool %s\x00", runCacheFormat, c.tool)
	if err := hashChart(h, ch, ""); err != nil {
		return "", err
	}
	vals, err := json.Marshal(layers)
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	fmt.Fprintf(h, "values %d %s\x00release %q namespace %q kube %q deps %t\x00",
		len(vals), vals, ro.Release, ro.Namespace, ro.KubeVersion, includeDeps)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// packageKey digests the entry key, the destination registry and the rewrite's mappings.
func packageKey(key, destRegistry string, mappings []stages.ImageMapping) string {
	lines := make([]string, len(mappings))
	for i, m := range mappings {
		lines[i] = m.Source.String() + "|" + m.Destination.String()
	}
	sort.Strings(lines)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", key, destRegistry, strings.Join(lines, "\n"))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// hashChart writes every file and setting of ch and its subcharts to h, in a fixed order.
func hashChart(h io.Writer, ch *chart.Chart, path string) error {
	path += "/" + ch.Name()
	meta, err := json.Marshal(ch.Metadata)
	if err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	vals, err := json.Marshal(ch.Values)
	if err != nil {
		return fmt.Errorf("chart %s values: %w", path, err)
	}
	lock, err := json.Marshal(ch.Lock)
	if err != nil {
		return fmt.Errorf("chart %s lock: %w", path, err)
	}
	fmt.Fprintf(h, "chart %s\x00meta %d %s\x00values %d %s\x00lock %d %s\x00schema %d %s\x00",
		path, len(meta), meta, len(vals), vals, len(lock), lock, len(ch.Schema), ch.Schema)
	for _, group := range []struct {
		kind  string
		files []*chart.File
	}{{"raw", ch.Raw}, {"template", ch.Templates}, {"file", ch.Files}} {
		files := append([]*chart.File(nil), group.files...)
		sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		for _, f := range files {
			if group.kind == "raw" && strings.HasPrefix(f.Name, "charts/") {
				continue // subcharts are hashed as loaded, below
			}
			fmt.Fprintf(h, "%s %q %d\x00", group.kind, f.Name, len(f.Data))
			h.Write(f.Data)
		}
	}
	subs := append([]*chart.Chart(nil), ch.Dependencies()...)
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	fmt.Fprintf(h, "subcharts %d\x00", len(subs))
	for _, s := range subs {
		if err := hashChart(h, s, path); err != nil {
			return err
		}
	}
	return nil
}

// toolIdentity names this build: module version, VCS revision and the executable's size
// and time, so any rebuild misses the entries of the one before.
func toolIdentity() string {
	id := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		id = bi.Main.Path + "@" + bi.Main.Version + " " + bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				id += " " + s.Key + "=" + s.Value
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			id += fmt.Sprintf(" exe=%d@%d", st.Size(), st.ModTime().UnixNano())
		}
	}
	return id
}

func cacheImages(images []stages.FoundImage) []cachedImage {
	out := make([]cachedImage, len(images))
	for i, img := range images {
		out[i] = cachedImage{Registry: img.Ref.Registry, Repository: img.Ref.Repository, Tag: img.Ref.Tag,
			Digest: img.Ref.Digest, Raw: img.Raw, PodSpec: img.PodSpec, Where: img.Where, AnnotationOnly: img.AnnotationOnly}
	}
	return out
}

func (e *runCacheEntry) foundImages() []stages.FoundImage {
	out := make([]stages.FoundImage, len(e.Images))
	for i, img := range e.Images {
		out[i] = stages.FoundImage{
			Ref: registry.ImageRef{Registry: img.Registry, Repository: img.Repository, Tag: img.Tag, Digest: img.Digest},
			Raw: img.Raw, PodSpec: img.PodSpec, Where: img.Where, AnnotationOnly: img.AnnotationOnly,
		}
	}
	return out
}

// fileDigest is stages.FileDigest, "" when the file cannot be read.
func fileDigest(p string) string {
	d, _ := stages.FileDigest(p)
	return d
}
