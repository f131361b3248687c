package main

// Examples shown by --help of each command (kong prints a command's Help() under its
// summary).

// Help implements kong.HelpProvider.
func (c *syncCmd) Help() string {
	return `Examples:

  # What would be mirrored, pushing nothing:
  airgap-charts --values ./values.yaml --scan-only

  # Newest chart versions with their subcharts, into the account's private ECR:
  airgap-charts --values ./values.yaml --latest --include-dependencies

  # A given ECR registry, images under a team path:
  airgap-charts --values ./values.yaml \
    --target-registry 111122223333.dkr.ecr.us-east-1.amazonaws.com --target-prefix team/x

  # Several catalogs (repeat the flag or join them with commas):
  airgap-charts --catalog ./catalog.yaml --catalog ./more-a.yaml,./more-b.yaml

  # Only some addons: chart names with --values, release names with --catalog:
  airgap-charts --values ./values.yaml --only-addon aws-load-balancer-controller,karpenter
  airgap-charts --catalog ./catalog.yaml --scan-only --exclude-addons argocd

  # Any OCI registry, a nightly CI job configured from its environment:
  AIRGAP_CHARTS_CATALOG=./catalog.yaml AIRGAP_CHARTS_TARGET_REGISTRY=harbor.example.com \
  AIRGAP_CHARTS_REPORT=./report.json airgap-charts sync

Every flag can be set from the environment variable shown beside it; a flag given on the
command line wins. Credentials for other registries come from docker's config.json, its
credential helpers and $REGISTRY_AUTH_FILE, and for OCI chart repositories from
helm registry login too (see the README).`
}

// Help implements kong.HelpProvider.
func (c *catalogCmd) Help() string {
	return `Examples:

  # Print the catalog of a values file:
  airgap-charts catalog --values ./values.yaml

  # Write it, leaving one chart out, then sync from it:
  airgap-charts catalog --values ./values.yaml --exclude-addons argocd --out ./catalog.yaml
  airgap-charts --catalog ./catalog.yaml --scan-only`
}

// Help implements kong.HelpProvider.
func (c *demoCmd) Help() string {
	return `Examples:

  # Mirror three small charts between registries started in this process, twice:
  airgap-charts demo`
}
