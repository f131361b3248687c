package registry

import "testing"

// Every bound follows the two flags; zero takes the defaults.
func TestNewBounds(t *testing.T) {
	b := NewBounds(0, 3)
	want := Bounds{CopyWorkers: DefaultConcurrency, WarmPreflight: 16, BlobTransfers: 32, ManifestFanout: 8,
		IdleConnsPerHost: 64, RemoteJobs: 8, Addons: 3, AddonsInFlight: 32, Publishes: 8}
	if b != want {
		t.Fatalf("NewBounds(0, 3) = %+v, want %+v", b, want)
	}
	if b := NewBounds(1, 1); b.BlobTransfers != 4 || b.IdleConnsPerHost != 16 || b.AddonsInFlight != 8 || b.Publishes != 1 {
		t.Fatalf("NewBounds(1, 1) = %+v", b)
	}
	c := newTestClient(t, ClientOptions{Concurrency: 3})
	if cap(c.slots) != NewBounds(3, 0).BlobTransfers || c.bounds.CopyWorkers != 3 {
		t.Fatalf("client transfer slots %d, want %d", cap(c.slots), NewBounds(3, 0).BlobTransfers)
	}
}
