package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/airgap-charts/airgap-charts/stages"
)

// A rerun of an addon whose fetched archive, values and settings are those of an earlier
// run needs neither the chart loaded nor its dependencies walked again, when that earlier
// run found the chart needing nothing from outside its archive (every subchart vendored,
// or dependencies excluded): the render's inputs are then the archive's bytes, the values
// and the settings, all named by the archive key. A dependency fetched from a repository,
// or dropped because it could not be, may resolve differently today: such an entry has no
// archive key, and its addon loads the chart every run.

// cachedChart names the chart an archive holds.
type cachedChart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// archiveKey digests the fetched archive, the value layers, the render settings and the
// build; "" when the values do not encode.
func (c *runCache) archiveKey(archiveDigest string, layers []map[string]any, ro stages.RenderOptions, includeDeps bool) string {
	vals, err := json.Marshal(layers)
	if err != nil || archiveDigest == "" {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "format %d\x00tool %s\x00archive %s\x00values %d %s\x00release %q namespace %q kube %q deps %t\x00",
		runCacheFormat, c.tool, archiveDigest, len(vals), vals, ro.Release, ro.Namespace, ro.KubeVersion, includeDeps)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// knowsArchive says whether e was made from the inputs archiveKey names, by a chart that
// needed nothing from outside its archive.
func (e *runCacheEntry) knowsArchive(archiveKey string) bool {
	return e != nil && archiveKey != "" && e.ArchiveKey == archiveKey && e.Chart != nil && e.Chart.Name != ""
}

// remember records in e what a later run needs to use it without loading the chart: the
// archive key when the chart's dependencies were all inside its archive (or excluded),
// the dependencies as resolved and the chart's name and version.
func (e *runCacheEntry) remember(archiveKey string, p *preparedAddon, deps []stages.Dependency) {
	if e == nil {
		return
	}
	e.ArchiveKey, e.Dependencies, e.Chart = "", nil, &cachedChart{Name: p.name, Version: p.version}
	for _, d := range deps {
		if d.State != stages.DepVendored && d.State != stages.DepExcluded {
			return
		}
	}
	e.ArchiveKey, e.Dependencies = archiveKey, deps
}
