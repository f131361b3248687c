package engine

import (
	"encoding/json"
	"errors"
	"github.com/airgap-charts/airgap-charts/config"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
)

// OutputsFile is the record, in the output directory, of the files runs wrote there per
// addon: what --prune may remove. It never lists a file a run did not write.
const OutputsFile = "airgap-charts-outputs.json"

// outputsRecord is OutputsFile's content.
type outputsRecord struct {
	SchemaVersion int `json:"schema_version"`
	// Addons maps an addon's name (release in catalog mode, chart in values mode) to the
	// files written for it, relative to the output directory, sorted.
	Addons map[string][]string `json:"addons"`
}

func readOutputs(dir string) outputsRecord {
	rec := outputsRecord{SchemaVersion: 1, Addons: map[string][]string{}}
	data, err := os.ReadFile(filepath.Join(dir, OutputsFile))
	if err != nil {
		return rec
	}
	var got outputsRecord
	if json.Unmarshal(data, &got) != nil || got.SchemaVersion != 1 {
		return rec // unreadable: start again, forgetting (never removing) what it listed
	}
	for name, files := range got.Addons {
		rec.Addons[name] = files
	}
	return rec
}

// writtenFiles are the files this run wrote for an addon, relative to dir.
func writtenFiles(dir string, rep *AddonReport) []string {
	var out []string
	for _, p := range []string{rep.ChartArchive, rep.ConsumerOverrides, rep.VerifyPolicy} {
		if p == "" {
			continue
		}
		if rel, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(rel) {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}

// recordOutputs updates OutputsFile with what this run wrote and, with --prune, removes the
// files earlier runs wrote for addons that are no longer in the inputs, and the files an
// addon that succeeded no longer has (an older version's archive). It returns the files
// removed, relative to the output directory. Only files the record lists are removed, and
// a directory only once it is empty.
func recordOutputs(opts Options, reports []*AddonReport, log *zap.Logger) []string {
	dir := opts.OutputDir
	prev := readOutputs(dir)
	next := outputsRecord{SchemaVersion: 1, Addons: map[string][]string{}}
	inInputs := map[string]bool{}
	names := opts.InputAddons
	if names == nil {
		for _, a := range opts.Addons {
			names = append(names, a.Name())
		}
	}
	for _, n := range names {
		inInputs[n] = true
	}
	var removed []string
	remove := func(rel string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		for _, f := range []string{p, p + failedSuffix} {
			err := os.Remove(f)
			if err == nil {
				r, _ := filepath.Rel(dir, f)
				removed = append(removed, filepath.ToSlash(r))
			} else if !errors.Is(err, fs.ErrNotExist) {
				log.Warn("prune: could not remove a file an earlier run wrote", zap.String("path", f), zap.Error(err))
			}
		}
		// The chart directory goes once it is empty (never the output directory itself).
		for d := filepath.Dir(p); d != filepath.Clean(dir) && strings.HasPrefix(d, filepath.Clean(dir)+string(filepath.Separator)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	ran := map[string]bool{}
	for _, rep := range reports {
		if rep == nil {
			continue
		}
		ran[rep.Addon] = true
		files := writtenFiles(dir, rep)
		now := map[string]bool{}
		for _, f := range files {
			now[f] = true
		}
		for _, f := range prev.Addons[rep.Addon] {
			switch {
			case now[f]:
			case opts.Prune && rep.Status == StatusSuccess && !opts.ScanOnly:
				remove(f)
			default:
				files = append(files, f) // kept: still ours, a later --prune may remove it
			}
		}
		next.Addons[rep.Addon] = files
	}
	for name, files := range prev.Addons {
		switch {
		case ran[name]:
		case opts.Prune && !inInputs[name]:
			for _, f := range files {
				remove(f)
			}
		default:
			next.Addons[name] = files
		}
	}
	for name, files := range next.Addons {
		next.Addons[name] = sortedUnique(files, func(rel string) bool {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			return fileExists(p) || fileExists(p+failedSuffix)
		})
		if len(next.Addons[name]) == 0 {
			delete(next.Addons, name)
		}
	}
	if len(next.Addons) == 0 && !fileExists(filepath.Join(dir, OutputsFile)) {
		return removed // nothing written, nothing recorded before: no file either
	}
	data, err := json.MarshalIndent(next, "", "  ")
	if err == nil {
		err = config.WriteFileAtomic(filepath.Join(dir, OutputsFile), append(data, '\n'), 0o644)
	}
	if err != nil {
		log.Warn("could not record the files of the run", zap.String("file", filepath.Join(dir, OutputsFile)), zap.Error(err))
	}
	sort.Strings(removed)
	for _, r := range removed {
		log.Info("pruned a file of an addon no longer in the inputs, or superseded", zap.String("path", filepath.Join(dir, r)))
	}
	return removed
}

func sortedUnique(in []string, keep func(string) bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] && keep(s) {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
