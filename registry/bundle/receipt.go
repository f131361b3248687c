package bundle

import (
	"github.com/airgap-charts/airgap-charts/config"

	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

// ReceiptSchema is the receipt schema this build writes and reads.
const ReceiptSchema = 1

// Receipt is what a destination holds of the bundles imported into it: per source
// repository, the destination repository, its tags and every blob and manifest digest.
// An export given it writes only what the destination lacks.
type Receipt struct {
	Schema       int            `json:"schema_version"`
	Kind         string         `json:"kind"` // "airgap-charts-receipt"
	ID           string         `json:"receipt_id"`
	Destination  string         `json:"destination"`
	Prefix       string         `json:"target_prefix,omitempty"`
	Updated      time.Time      `json:"updated"`
	Bundles      []string       `json:"bundles"`
	Repositories []ReceiptRepo  `json:"repositories"`
	Charts       []ReceiptChart `json:"charts,omitempty"`
}

// ReceiptKind marks a receipt file.
const ReceiptKind = "airgap-charts-receipt"

// ReceiptRepo is one source repository as mirrored at the destination.
type ReceiptRepo struct {
	Source      string            `json:"source"`
	Destination string            `json:"destination"`
	Tags        map[string]string `json:"tags,omitempty"`
	Digests     []string          `json:"digests"`
}

// ReceiptChart is one chart published at the destination.
type ReceiptChart struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
}

// ReadReceipt reads and checks a receipt file.
func ReadReceipt(path string) (*Receipt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil || r.Kind != ReceiptKind {
		return nil, &Error{File: path, Msg: "not an airgap-charts receipt", Err: err}
	}
	if r.Schema > ReceiptSchema || r.Schema < 1 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("receipt schema %d: this build reads %d", r.Schema, ReceiptSchema)}
	}
	if r.Destination == "" || r.ID == "" {
		return nil, &Error{File: path, Msg: "receipt names no destination"}
	}
	return &r, nil
}

// ReadOrNewReceipt reads path when it exists, else starts a receipt for destination.
func ReadOrNewReceipt(path, destination, prefix string) (*Receipt, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return &Receipt{Schema: ReceiptSchema, Kind: ReceiptKind, ID: NewID(), Destination: destination, Prefix: prefix}, nil
	}
	r, err := ReadReceipt(path)
	if err != nil {
		return nil, err
	}
	if r.Destination != destination || r.Prefix != prefix {
		return nil, &Error{File: path, Msg: fmt.Sprintf("receipt is for %s (prefix %q), not %s (prefix %q): give another --receipt-out", r.Destination, r.Prefix, destination, prefix)}
	}
	return r, nil
}

// Holds says which digests the destination repository mirroring source holds.
func (r *Receipt) Holds(source string) map[string]bool {
	out := map[string]bool{}
	if r == nil {
		return out
	}
	for _, repo := range r.Repositories {
		if repo.Source == source {
			for _, d := range repo.Digests {
				out[d] = true
			}
		}
	}
	return out
}

// Add records that the destination repository dest mirroring source holds digests (and
// the tag, when given).
func (r *Receipt) Add(source, dest, tag, tagDigest string, digests []string) {
	var repo *ReceiptRepo
	for i := range r.Repositories {
		if r.Repositories[i].Source == source {
			repo = &r.Repositories[i]
		}
	}
	if repo == nil {
		r.Repositories = append(r.Repositories, ReceiptRepo{Source: source, Destination: dest})
		repo = &r.Repositories[len(r.Repositories)-1]
	}
	repo.Destination = dest
	if tag != "" {
		if repo.Tags == nil {
			repo.Tags = map[string]string{}
		}
		repo.Tags[tag] = tagDigest
	}
	have := map[string]bool{}
	for _, d := range repo.Digests {
		have[d] = true
	}
	for _, d := range digests {
		if !have[d] {
			have[d] = true
			repo.Digests = append(repo.Digests, d)
		}
	}
	sort.Strings(repo.Digests)
}

// Write saves the receipt atomically.
func (r *Receipt) Write(path string) error {
	sort.Slice(r.Repositories, func(i, j int) bool { return r.Repositories[i].Source < r.Repositories[j].Source })
	data, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(path, append(data, '\n'), 0o644)
}

// NewID is a random identifier.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteManifest saves bundle.json atomically (the last file an export writes).
func WriteManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(dir+"/"+ManifestFile, append(data, '\n'), 0o644)
}
