package engine

import (
	"encoding/json"
	"github.com/airgap-charts/airgap-charts/config"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry"
)

// referrerMemo is, per destination image (repository@digest), the manifests whose
// referrers crossed and the referrer digests the destination held for them at the end of
// the last run. A rerun asks the source what refers to those manifests (HEADs and the
// referrers API: no pull) and the destination nothing about referrers it already holds, so
// a signature added at the source is noticed and copied, and nothing else is written.
type referrerMemo struct {
	path string

	mu      sync.Mutex
	changed bool                  // put since the record was read: save writes it
	Images  map[string]*memoImage `json:"images"`
}

type memoImage struct {
	Subjects  []v1.Descriptor     `json:"subjects"`
	Referrers map[string][]string `json:"referrers"` // subject digest → referrer digests
	// Listings are the source's referrers tag-schema indexes, by digest.
	Listings map[string][]v1.Descriptor `json:"listings,omitempty"`
}

// loadReferrerMemo reads the record; a missing or unreadable one is an empty record.
func loadReferrerMemo(path string) *referrerMemo {
	m := &referrerMemo{path: path, Images: map[string]*memoImage{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	var got referrerMemo
	if json.Unmarshal(data, &got) == nil && got.Images != nil {
		m.Images = got.Images
	}
	return m
}

func (m *referrerMemo) subjects(key string) []v1.Descriptor {
	if m == nil {
		return nil
	}
	m.mu.Lock()
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
	m.mu.Lock()
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Images[key] = &memoImage{Subjects: subjects, Referrers: rr.AtDestination, Listings: rr.Listings}
	m.changed = true
}

func (m *referrerMemo) listings(key string) map[string][]v1.Descriptor {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if im := m.Images[key]; im != nil {
		return im.Listings
	}
	return nil
}

// save writes the record atomically.
func (m *referrerMemo) save() error {
	m.mu.Lock()
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
