// Command bench-refcopy copies images the way the reference airgap-charts tool does, for the
// benchmark: chart by chart, one image at a time; each image is validated on the source
// (crane manifest), skipped when its destination tag exists (skip-existing, the default),
// else copied with crane.Copy (crane cp). Its input is a JSON plan: [[{source, dest}…]…].
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/crane"
)

type pair struct {
	Source string `json:"source"`
	Dest   string `json:"dest"`
}

func main() {
	planPath := flag.String("plan", "", "JSON plan: per chart, the images to copy")
	flag.Parse()
	raw, err := os.ReadFile(*planPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var charts [][]pair
	if err := json.Unmarshal(raw, &charts); err != nil {
		fmt.Fprintf(os.Stderr, "plan %s: %v\n", *planPath, err)
		os.Exit(2)
	}
	opts := []crane.Option{crane.Insecure}
	failed := 0
	for c, images := range charts {
		for _, p := range images {
			if _, err := crane.Manifest(p.Source, opts...); err != nil {
				fmt.Fprintf(os.Stderr, "chart %d: validate %s: %v\n", c, p.Source, err)
				failed++
				continue
			}
			if _, err := crane.Digest(p.Dest, opts...); err == nil {
				continue // skip-existing
			}
			if err := crane.Copy(p.Source, p.Dest, opts...); err != nil {
				fmt.Fprintf(os.Stderr, "chart %d: copy %s: %v\n", c, p.Source, err)
				failed++
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d images failed\n", failed)
		os.Exit(1)
	}
}
