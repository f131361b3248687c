package main

import (
	"fmt"

	"github.com/alecthomas/kong"
)

// commandWording is a command's own help for shared flags (flag groups, defined once in
// flaggroups_*.go with sync's wording): what the flag means for that command, or a short
// pointer to sync's help. Texts are interpolated as the tags' are (${default}).
var commandWording = map[string]map[string]string{
	"export": {
		"values":              "Values file listing addons (values mode).",
		"catalog":             "Catalog file(s), repeatable or comma-separated (catalog mode).",
		"only-addon":          "Export only these addons (as sync's --only-addon).",
		"exclude-addons":      "Skip these addons (as sync's --exclude-addons).",
		"overrides":           "chart-overrides.yaml (default: ./chart-overrides.yaml when present); it travels in the bundle.",
		"kube-version":        "Kubernetes version charts are rendered for (default: ${default}).",
		"allow-public-images": "Recorded in the bundle: the import publishes charts whose mirrored render still pulls public images.",
		"platform":            "auto keeps multi-arch indexes intact; one OS/ARCH or a comma-separated list stores the source index with those children only: the import copies what a sync with the same --platform copies.",
		"platform-missing":    "An image lacking a platform --platform asks for: fail its addon or skip that platform (as sync; recorded for the import) (default: ${default}).",
		"referrers":           "What travels with each image: all its referrers (signatures, SBOMs, attestations), signatures only, or none; the import copies them as a sync with the same flag (default: ${default}).",
		"referrers-type":      "Carry only referrers of this artifactType, repeatable (as sync).",
		"concurrency":         "Image manifest reads at once (default: ${default}).",
		"chart-concurrency":   "Addons processed at once (default: ${default}).",
		"rate-limit":          "Budget of manifest pulls for a registry host, repeatable (as sync).",
		"on-budget":           "When a pull budget is spent: fail or wait (default: ${default}).",
		"registry-mirror":     "Pull images of HOST from MIRROR (as sync). Repeatable.",
		"mirror-complete":     "The --registry-mirror of HOST holds every tag of HOST: its tag listings are trusted (as sync). Repeatable.",
		"repo-mirror":         "Fetch charts of a repository from a mirror (as sync). Repeatable.",
		"insecure-registry":   "Reach this host without TLS verification, or over plain HTTP (as sync). Repeatable.",
		"certs-dir":           "Per-host TLS material, docker's certs.d layout (as sync).",
		"ca-file":             "PEM bundle of extra certificate authorities (as sync).",
		"request-timeout":     "Longest wait for response headers (default: ${default}).",
		"stall-timeout":       "Longest time a transfer may go without a byte (default: ${default}).",
		"retries":             "Retries of a failed registry request (default: ${default}).",
	},
	"import": {
		"scan-only":               "Do everything except pushing images and charts.",
		"output-dir":              "Where repacked charts and consumer overrides are written (default: ${default}).",
		"allow-public-images":     "Publish a chart even when its mirrored render still pulls public images.",
		"verify-signatures":       "Cosign public key file, repeatable: each image's signature that travelled in the bundle must verify against one of them (as sync); the bundle must have been exported with --referrers all or signatures.",
		"target-registry":         "Destination registry (default: the AWS account's private ECR registry).",
		"target-prefix":           "Path under the registry for image repositories.",
		"chart-prefix":            "Path under the registry for charts, before their oci_namespace (as sync).",
		"target-kind":             "Destination kind: auto, ecr or oci.",
		"verify-existing-digest":  "Skip only when the destination digest matches the bundle's.",
		"overwrite-existing":      "When the destination digest differs, replace the destination tag.",
		"concurrency":             "Image copy workers (default: ${default}).",
		"chart-concurrency":       "Addons processed at once (default: ${default}).",
		"push-rate-limit":         "Quota of manifest PUTs for the destination (as sync).",
		"upload-rate-limit":       "Quota of blob upload starts and completions (as sync).",
		"insecure-registry":       "Reach the destination without TLS verification, or over plain HTTP.",
		"max-per-host":            "Cap on requests in flight to the destination host (as sync).",
		"certs-dir":               "Per-host TLS material, docker's certs.d layout.",
		"ca-file":                 "PEM bundle of extra certificate authorities.",
		"request-timeout":         "Longest wait for response headers (default: ${default}).",
		"stall-timeout":           "Longest time a transfer may go without a byte (default: ${default}).",
		"retries":                 "Retries of a failed registry request (default: ${default}).",
		"ecr-create-repositories": "Create missing ECR repositories (default: true).",
		"ecr-kms-key":             "Encrypt created repositories with this KMS key.",
		"ecr-put-image-rate":      "PutImage calls per second (default: ${default}).",
		"ecr-layer-upload-rate":   "Layer upload initiations per second (default: ${default}).",
	},
}

// withCommandWording gives each command's flags its own wording (commandWording), before
// kong interpolates help texts. A wording for a flag the command lacks is an error: the
// table follows the flag groups.
func withCommandWording() kong.Option {
	return kong.PostBuild(func(k *kong.Kong) error {
		for _, cmd := range k.Model.Children {
			wording := commandWording[cmd.Name]
			found := 0
			for _, f := range cmd.Flags {
				if help, ok := wording[f.Name]; ok {
					f.Help = help
					found++
				}
			}
			if found != len(wording) {
				return fmt.Errorf("command %s: %d of its %d flag wordings name no flag of it", cmd.Name, len(wording)-found, len(wording))
			}
		}
		return nil
	})
}
