package main

import (
	"strings"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// Flag groups of the destination side: where and how images and charts are pushed, and
// what a run writes locally. sync, plan and import embed them.

// runFlags: push or only look, and where the run's files go.
type runFlags struct {
	ScanOnly  bool   `group:"Run" help:"Plan: resolve every source and ask the destination read-only what it holds (the plan command's checks), push nothing; still writes the repacked charts and consumer overrides. Exit 4 when changes are pending, 5 when drift is found."`
	OutputDir string `group:"Run" default:"./helm-charts" placeholder:"DIR" help:"Where charts, repacked archives and consumer overrides are written (default: ${default})."`
	Report    string `group:"Run" placeholder:"FILE" help:"Write the JSON run report to FILE."`
}

func (f runFlags) options(o *engine.Options) error {
	if f.Report != "" {
		if err := checkReportPath(f.Report); err != nil {
			return err
		}
	}
	o.ScanOnly = f.ScanOnly
	o.OutputDir, o.ReportFile = f.OutputDir, f.Report
	return nil
}

// destFlags name the destination.
type destFlags struct {
	TargetRegistry string `group:"Destination" placeholder:"HOST" help:"Destination registry for images and charts (default: the AWS account's private ECR registry)."`
	TargetPrefix   string `group:"Destination" placeholder:"PATH" help:"Path under the registry for image repositories (charts go under their oci_namespace)."`
	ChartPrefix    string `group:"Destination" placeholder:"PATH" help:"Path under the registry for charts, before their oci_namespace (default: none): runs with different --target-prefix values then keep their charts apart instead of finding each other's chart under the same tag (drift)."`
	TargetKind     string `group:"Destination" enum:"auto,ecr,oci" default:"auto" help:"Destination kind: auto (ECR when the host is *.dkr.ecr.REGION.amazonaws.com[.cn]), ecr or oci."`
}

func (f destFlags) options(o *engine.Options) error {
	if strings.Contains(f.TargetRegistry, "://") {
		return usagef("--target-registry %q: give a registry host without a scheme", f.TargetRegistry)
	}
	o.TargetRegistry = f.TargetRegistry
	o.TargetPrefix = strings.Trim(f.TargetPrefix, "/")
	o.ChartPrefix = strings.Trim(f.ChartPrefix, "/")
	if msg := config.CheckRepositoryPath("--target-prefix", o.TargetPrefix); msg != "" {
		return usagef("%s", msg)
	}
	if msg := config.CheckRepositoryPath("--chart-prefix", o.ChartPrefix); msg != "" {
		return usagef("%s", msg)
	}
	o.TargetKind = f.TargetKind
	return nil
}

// existingFlags: what is done with an image the destination already holds.
type existingFlags struct {
	SkipExisting         bool `group:"Existing images" default:"true" negatable:"" help:"Skip an image whose destination tag already exists (default: true)."`
	VerifyExistingDigest bool `group:"Existing images" help:"With --skip-existing, skip only when the destination digest matches the source's for the chosen platform (one HEAD per existing tag); a differing one is drift: a warning, counted in the summary and the report, and the chart needing it is not published (addon DRIFT) unless --overwrite-existing. Without it, a tag moved at the source is never noticed by sync (plan always compares digests)."`
	OverwriteExisting    bool `group:"Existing images" help:"When the destination digest differs (drift), replace the destination tag; a chart tag holding another chart is replaced too."`
}

func (f existingFlags) options(o *engine.Options) {
	o.SkipExisting, o.VerifyDigest, o.OverwriteDigest = f.SkipExisting, f.VerifyExistingDigest, f.OverwriteExisting
}

// destCredFlags are the destination's credentials.
type destCredFlags struct {
	PrivateECRPassword string `group:"Credentials" name:"private-ecr-password" env:"AIRGAP_CHARTS_PRIVATE_ECR_PASSWORD,ECR_PRIVATE_PASSWORD" placeholder:"TOKEN" help:"Token for the private ECR registry (instead of the AWS SDK's)."`
}

func (f destCredFlags) options(o *engine.Options, env func(string) string) {
	o.PrivateECRPassword = orEnv(f.PrivateECRPassword, env, "ECR_PRIVATE_PASSWORD")
}

// pushFlags bound what is pushed to the destination, and requests in flight per host.
type pushFlags struct {
	MaxPerHost      []string `group:"Registries" name:"max-per-host" sep:"none" placeholder:"[HOST=]N" help:"Cap on requests in flight to a registry host: N for every host, HOST=N for one (docker.io covers Docker Hub's aliases; a --registry-mirror takes its source's), repeatable (e.g. docker.io=4). A request counts until its response's headers arrive. Default: no cap; the other bounds follow --concurrency (see the README's Concurrency table)."`
	PushRateLimit   []string `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of manifest PUTs for a destination host, repeatable (e.g. registry.example.com=10/1s). ECR hosts get ${ecr_put_image_rate}/1s without it (see --ecr-put-image-rate)."`
	UploadRateLimit []string `group:"Registries" sep:"none" placeholder:"HOST=N/PERIOD" help:"Quota of blob upload starts and of completions for a destination host, repeatable (e.g. registry.example.com=100/1s). ECR hosts get ${ecr_layer_upload_rate}/1s without it."`
}

func (f pushFlags) options(o *engine.Options) error {
	for _, s := range f.PushRateLimit {
		rl, err := parseHostRate("--push-rate-limit", "registry.example.com=10/1s", s)
		if err != nil {
			return err
		}
		o.PushLimits = append(o.PushLimits, rl)
	}
	for _, s := range f.UploadRateLimit {
		rl, err := parseHostRate("--upload-rate-limit", "registry.example.com=100/1s", s)
		if err != nil {
			return err
		}
		o.UploadLimits = append(o.UploadLimits, rl)
	}
	var err error
	o.MaxPerHost, err = parseMaxPerHost(f.MaxPerHost)
	return err
}

// ecrFlags shape the ECR repositories a run creates.
type ecrFlags struct {
	ECRCreateRepositories bool    `group:"ECR repositories" name:"ecr-create-repositories" default:"true" negatable:"" help:"Create missing ECR repositories (default: true; --no-ecr-create-repositories where repository creation templates do it)."`
	ECRImmutableTags      bool    `group:"ECR repositories" name:"ecr-immutable-tags" help:"Create repositories with IMMUTABLE tags."`
	ECRScanOnPush         bool    `group:"ECR repositories" name:"ecr-scan-on-push" help:"Create repositories with scan on push."`
	ECRKMSKey             string  `group:"ECR repositories" name:"ecr-kms-key" placeholder:"ARN" help:"Encrypt created repositories with this KMS key (default: AES256)."`
	ECRLifecyclePolicy    string  `group:"ECR repositories" name:"ecr-lifecycle-policy" placeholder:"FILE" help:"JSON lifecycle policy applied to created repositories."`
	ECRPutImageRate       float64 `group:"ECR repositories" name:"ecr-put-image-rate" default:"${ecr_put_image_rate}" placeholder:"PER-SECOND" help:"PutImage calls per second (default: ${default}, ECR's default quota)."`
	ECRLayerUploadRate    float64 `group:"ECR repositories" name:"ecr-layer-upload-rate" default:"${ecr_layer_upload_rate}" placeholder:"PER-SECOND" help:"Layer upload initiations per second (default: ${default}, ECR's default quota)."`
}

// options checks the rates and reads the lifecycle policy file (to check it).
func (f ecrFlags) options(o *engine.Options) error {
	if f.ECRPutImageRate <= 0 || f.ECRLayerUploadRate <= 0 {
		return usagef("--ecr-put-image-rate and --ecr-layer-upload-rate must be above 0")
	}
	if f.ECRLifecyclePolicy != "" {
		if err := checkJSONFile(f.ECRLifecyclePolicy); err != nil {
			return err
		}
	}
	o.ECR = engine.ECROptions{
		CreateRepositories:  f.ECRCreateRepositories,
		ImmutableTags:       f.ECRImmutableTags,
		ScanOnPush:          f.ECRScanOnPush,
		KMSKey:              f.ECRKMSKey,
		LifecyclePolicyFile: f.ECRLifecyclePolicy,
		PutImageRate:        f.ECRPutImageRate,
		LayerUploadRate:     f.ECRLayerUploadRate,
	}
	return nil
}
