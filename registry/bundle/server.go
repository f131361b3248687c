package bundle

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
)

// Server serves an opened bundle as a read-only registry (the distribution API for its
// images, as a pull mirror of each source host) and as HTTP chart repositories (one per
// source repository of its charts): the import's copy engine and chart stages read the
// bundle through it exactly as a sync reads its sources.
type Server struct {
	o *Opened
	// prefixes maps a source registry host to its path on the server, hosts back.
	prefixes map[string]string
	hosts    map[string]string
	tags     map[string]Image // host/repo:tag → image
	// referrers lists, per host/repo@subject, the referrers that travelled; sigTags maps
	// cosign's tags (host/repo:sha256-<hex>.sig) to what they hold.
	referrers map[string][]Referrer
	sigTags   map[string]Referrer
	repos     map[string]int // chart repository URL → its number
	charts    map[int][]Chart
}

// NewServer indexes o's images and charts.
func NewServer(o *Opened) (*Server, error) {
	s := &Server{o: o, prefixes: map[string]string{}, hosts: map[string]string{}, tags: map[string]Image{},
		referrers: map[string][]Referrer{}, sigTags: map[string]Referrer{}, repos: map[string]int{}, charts: map[int][]Chart{}}
	host := func(r string) (registry.ImageRef, error) {
		ref, err := registry.ParseImageRef(r)
		if err != nil {
			return ref, fmt.Errorf("%s: image %q: %w", ManifestFile, r, err)
		}
		if _, ok := s.prefixes[ref.Registry]; !ok {
			p := fmt.Sprintf("r%d", len(s.prefixes))
			s.prefixes[ref.Registry], s.hosts[p] = p, ref.Registry
		}
		return ref, nil
	}
	for _, img := range o.Manifest.Images {
		ref, err := host(img.Ref)
		if err != nil {
			return nil, err
		}
		if ref.Tag != "" {
			s.tags[ref.Name()+":"+ref.Tag] = img
		}
		s.addReferrers(ref.Name(), img.Referrers)
	}
	// Every image an addon names is looked for in the bundle only, one that could not be
	// exported too.
	for _, a := range o.Manifest.Addons {
		for _, r := range a.Images {
			if _, err := host(r); err != nil {
				return nil, err
			}
		}
	}
	repo := func(u string) int {
		u = RepoKey(u)
		n, ok := s.repos[u]
		if !ok {
			n = len(s.repos)
			s.repos[u] = n
		}
		return n
	}
	for _, c := range o.Manifest.Charts {
		n := repo(c.Repository)
		s.charts[n] = append(s.charts[n], c)
	}
	for _, a := range o.Manifest.Addons {
		repo(a.Repository)
		for _, u := range a.DependencyRepos {
			if strings.Contains(u, "://") {
				repo(u) // a disabled dependency not fetched: found nowhere, dropped again
			}
		}
	}
	return s, nil
}

// addReferrers indexes an image's referrers in its repository (src: host/repo), each once
// per subject: two tags of one repository share them.
func (s *Server) addReferrers(src string, rs []Referrer) {
	for _, r := range rs {
		if r.Tag != "" {
			s.sigTags[src+":"+r.Tag] = r
			continue
		}
		key := src + "@" + r.Subject
		dup := false
		for _, x := range s.referrers[key] {
			dup = dup || x.Digest == r.Digest
		}
		if !dup {
			s.referrers[key] = append(s.referrers[key], r)
		}
	}
}

// RepoKey is the form of a chart repository URL the mirrors are keyed by.
func RepoKey(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// RegistryMirrors maps every source host of the bundle's images to its path on the
// server at addr (host:port).
func (s *Server) RegistryMirrors(addr string) map[string]string {
	out := map[string]string{}
	for host, p := range s.prefixes {
		out[host] = addr + "/" + p
	}
	return out
}

// RepoMirrors maps every chart repository of the bundle to its path on the server.
func (s *Server) RepoMirrors(addr string) map[string]string {
	out := map[string]string{}
	for u, n := range s.repos {
		out[u] = fmt.Sprintf("http://%s/charts/%d", addr, n)
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the bundle is read-only")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	case strings.HasPrefix(p, "/v2/"):
		s.serveRegistry(w, r, strings.TrimPrefix(p, "/v2/"))
	case strings.HasPrefix(p, "/charts/"):
		s.serveCharts(w, r, strings.TrimPrefix(p, "/charts/"))
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request, rest string) {
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/list"} {
		i := strings.LastIndex(rest, kind)
		if i < 0 {
			continue
		}
		name, ref := rest[:i], rest[i+len(kind):]
		pfx, repo, _ := strings.Cut(name, "/")
		host, ok := s.hosts[pfx]
		if !ok {
			regError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository not in this bundle")
			return
		}
		src := host + "/" + repo
		switch kind {
		case "/manifests/":
			s.serveManifest(w, r, src, ref)
		case "/blobs/":
			s.serveBlob(w, r, ref, "application/octet-stream", false)
		case "/referrers/":
			s.serveReferrers(w, r, src, ref)
		default:
			s.serveTags(w, src)
		}
		return
	}
	http.NotFound(w, r)
}

func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, src, ref string) {
	digest := ref
	if !strings.HasPrefix(ref, "sha256:") {
		img, ok := s.tags[src+":"+ref]
		sig, isSig := s.sigTags[src+":"+ref]
		switch {
		case ok:
			digest = img.TagDigest()
		case isSig && sig.ListedOnly:
			// Only its listing travelled: what the tag holds is known, not its bytes.
			if r.Method != http.MethodHead {
				regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", fmt.Sprintf("%s:%s is listed in this bundle, not held: it refers to a source index the platform choice left behind", src, ref))
				return
			}
			w.Header().Set("Content-Type", sig.MediaType)
			w.Header().Set("Docker-Content-Digest", sig.Digest)
			w.Header().Set("Content-Length", fmt.Sprint(sig.Size))
			return
		case isSig:
			digest = sig.Digest
		default:
			regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", fmt.Sprintf("%s:%s is not in this bundle", src, ref))
			return
		}
	}
	b, ok := s.o.Blob(digest)
	if !ok || !b.Manifest {
		regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", fmt.Sprintf("manifest %s of %s is not in this bundle", digest, src))
		return
	}
	if r.Method == http.MethodHead && !s.o.Has(digest) {
		// What the tag holds is known without its bytes (a receipt left them out).
		w.Header().Set("Content-Type", b.MediaType)
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", fmt.Sprint(b.Size))
		return
	}
	s.serveBlob(w, r, digest, b.MediaType, true)
}

// serveReferrers answers the referrers API: the referrers of subject that travelled (an
// empty index for any other), filtered by artifactType when asked.
func (s *Server) serveReferrers(w http.ResponseWriter, r *http.Request, src, subject string) {
	want := r.URL.Query().Get("artifactType")
	idx := map[string]any{"schemaVersion": 2, "mediaType": indexMediaType}
	manifests := []map[string]any{}
	for _, x := range s.referrers[src+"@"+subject] {
		if want != "" && x.ArtifactType != want {
			continue
		}
		d := map[string]any{"mediaType": x.MediaType, "digest": x.Digest, "size": x.Size}
		if x.ArtifactType != "" {
			d["artifactType"] = x.ArtifactType
		}
		if len(x.Annotations) > 0 {
			d["annotations"] = x.Annotations
		}
		manifests = append(manifests, d)
	}
	idx["manifests"] = manifests
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", indexMediaType)
	_ = json.NewEncoder(w).Encode(idx)
}

const indexMediaType = "application/vnd.oci.image.index.v1+json"

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, digest, mediaType string, manifest bool) {
	f, off, size, err := s.o.section(digest)
	if err != nil {
		code := "BLOB_UNKNOWN"
		if manifest {
			code = "MANIFEST_UNKNOWN"
		}
		regError(w, http.StatusNotFound, code, s.whyMissing(digest))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Etag", `"`+digest+`"`)
	if r.Method == http.MethodGet && r.Header.Get("Range") == "" && r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Range") == "" {
		// A whole blob: sent from the part file by the kernel (sendfile: the response's
		// ReadFrom given the file itself, limited), not read into this process and
		// written out again.
		if _, err := f.Seek(off, io.SeekStart); err == nil {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
			_, _ = io.Copy(w, io.LimitReader(f, size))
			return
		}
	}
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(f, off, size))
}

// whyMissing says why the bundle cannot give blob d.
func (s *Server) whyMissing(d string) string {
	b, ok := s.o.Blob(d)
	switch {
	case !ok:
		return fmt.Sprintf("%s is not in this bundle", d)
	case b.Part == 0:
		return fmt.Sprintf("%s is not in this bundle: the receipt it was exported against says the destination holds it", d)
	}
	for _, st := range s.o.Parts {
		if st.Part.N == b.Part {
			return fmt.Sprintf("%s is in %s, which is %s: waiting for part %d", d, st.Part.File, st.Problem, b.Part)
		}
	}
	return fmt.Sprintf("%s is in part %d, which the bundle manifest does not list", d, b.Part)
}

// serveTags lists a repository's tags as the source listed them for this bundle: its
// images' tags and the signature and referrer tags that travelled (a listing that left
// those out would hide them from referrer discovery, which asks only the tags listed).
func (s *Server) serveTags(w http.ResponseWriter, src string) {
	var tags []string
	for k := range s.tags {
		if t, ok := strings.CutPrefix(k, src+":"); ok && !strings.Contains(t, "/") {
			tags = append(tags, t)
		}
	}
	for k := range s.sigTags {
		if t, ok := strings.CutPrefix(k, src+":"); ok && !strings.Contains(t, "/") {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"name": src, "tags": tags})
}

func (s *Server) serveCharts(w http.ResponseWriter, r *http.Request, rest string) {
	var n int
	var file string
	if _, err := fmt.Sscanf(rest, "%d/", &n); err != nil {
		http.NotFound(w, r)
		return
	}
	_, file, _ = strings.Cut(rest, "/")
	charts := s.charts[n]
	if file == "index.yaml" {
		entries := map[string][]map[string]any{}
		for _, c := range charts {
			entries[c.Name] = append(entries[c.Name], map[string]any{"apiVersion": "v2", "name": c.Name, "version": c.Version,
				"urls": []string{chartFile(c)}, "digest": strings.TrimPrefix(c.Digest, "sha256:")})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "entries": entries})
		return
	}
	for _, c := range charts {
		if chartFile(c) == file {
			s.serveBlob(w, r, c.Digest, "application/gzip", false)
			return
		}
	}
	http.NotFound(w, r)
}

func chartFile(c Chart) string { return c.Name + "-" + c.Version + ".tgz" }

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
