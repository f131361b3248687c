package engine

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// referrerMemo is, per destination image (repository@digest), the manifests whose
// referrers crossed and the referrer digests the destination held for them at the end of
// the last run. A rerun asks the source what refers to those manifests (HEADs and the
// referrers API: no pull) and the destination nothing about referrers it already holds, so
// a signature added at the source is noticed and copied, and nothing else is written.
type referrerMemo struct {
	path string
	// loaded is closed once the record is read: it is read beside the run's start, and
	// every use waits for it.
	loaded chan struct{}

	mu      sync.Mutex
	changed bool                  // a put recorded something new: save writes the record
	Images  map[string]*memoImage `json:"images"`
}

type memoImage struct {
	Subjects  []v1.Descriptor     `json:"subjects"`
	Referrers map[string][]string `json:"referrers"` // subject digest → referrer digests
	// Listings are the source's referrers tag-schema indexes, by digest.
	Listings map[string][]v1.Descriptor `json:"listings,omitempty"`
}

// loadReferrerMemo starts reading the record; a missing or unreadable one is an empty
// record.
func loadReferrerMemo(path string) *referrerMemo {
	m := &referrerMemo{path: path, loaded: make(chan struct{})}
	go func() {
		defer close(m.loaded)
		m.Images = readMemoImages(path)
	}()
	return m
}

func readMemoImages(path string) map[string]*memoImage {
	data, err := os.ReadFile(path)
	if err != nil {
		return map[string]*memoImage{}
	}
	var got struct {
		Images map[string]*memoImage `json:"images"`
	}
	if json.Unmarshal(data, &got) != nil || got.Images == nil {
		return map[string]*memoImage{}
	}
	return got.Images
}

// lock waits for the record to be read, then takes its lock.
func (m *referrerMemo) lock() {
	<-m.loaded
	m.mu.Lock()
}

func (m *referrerMemo) subjects(key string) []v1.Descriptor {
	if m == nil {
		return nil
	}
	m.lock()
	defer m.mu.Unlock()
	if im := m.Images[key]; im != nil {
		return im.Subjects
	}
	return nil
}

func (m *referrerMemo) known(key string) map[string]bool {
	if m == nil {
		return nil
	}
	m.lock()
	defer m.mu.Unlock()
	im := m.Images[key]
	if im == nil {
		return nil
	}
	out := map[string]bool{}
	for _, ds := range im.Referrers {
		for _, d := range ds {
			out[d] = true
		}
	}
	return out
}

func (m *referrerMemo) put(key string, subjects []v1.Descriptor, rr registry.ReferrersResult) {
	if m == nil {
		return
	}
	m.lock()
	defer m.mu.Unlock()
	im := &memoImage{Subjects: subjects, Referrers: rr.AtDestination, Listings: rr.Listings}
	if old := m.Images[key]; old != nil && old.same(im) {
		return // a rerun that found what the last run left: nothing to write
	}
	m.Images[key] = im
	m.changed = true
}

func (m *referrerMemo) listings(key string) map[string][]v1.Descriptor {
	if m == nil {
		return nil
	}
	m.lock()
	defer m.mu.Unlock()
	if im := m.Images[key]; im != nil {
		return im.Listings
	}
	return nil
}

// save writes the record atomically.
func (m *referrerMemo) save() error {
	m.lock()
	if !m.changed {
		m.mu.Unlock()
		return nil // nothing learnt: the file (if any) stays as it is
	}
	data, err := json.Marshal(m)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(m.path, data, 0o644)
}

// same says whether b records what a does: the same subjects, the same referrers of each
// (in the same order) and the same listings. An empty list or map is the same as none, as
// the record reads back.
func (a *memoImage) same(b *memoImage) bool {
	if !slices.EqualFunc(a.Subjects, b.Subjects, sameDescriptor) || len(a.Referrers) != len(b.Referrers) || len(a.Listings) != len(b.Listings) {
		return false
	}
	for subject, ds := range a.Referrers {
		if other, ok := b.Referrers[subject]; !ok || !slices.Equal(ds, other) {
			return false
		}
	}
	for d, ls := range a.Listings {
		if other, ok := b.Listings[d]; !ok || !slices.EqualFunc(ls, other, sameDescriptor) {
			return false
		}
	}
	return true
}

func sameDescriptor(a, b v1.Descriptor) bool {
	return a.Digest == b.Digest && a.MediaType == b.MediaType && a.Size == b.Size && a.ArtifactType == b.ArtifactType &&
		maps.Equal(a.Annotations, b.Annotations) && slices.Equal(a.URLs, b.URLs) && bytes.Equal(a.Data, b.Data) &&
		samePlatform(a.Platform, b.Platform)
}

func samePlatform(a, b *v1.Platform) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equals(*b)
}
