package ecr

import (
	"context"
	"errors"
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

const lifecyclePolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`

// newECR connects an ECR destination to sim's registry.
func newECR(t *testing.T, sim *ecrsim.Sim, set func(*Options)) *Registry {
	t.Helper()
	o := Options{AWSConfig: sim.AWSConfig(), Endpoint: sim.URL, Registry: sim.Host}
	if set != nil {
		set(&o)
	}
	e, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(e *Registry, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return remote.Write(tag, img, remote.WithAuthFromKeychain(e.Keychain()))
}

func TestECREnsureRepositoryAppliesSettingsOncePerRun(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, func(o *Options) {
		o.CreateRepositories, o.ImmutableTags, o.ScanOnPush = true, true, true
		o.KMSKey = "arn:aws:kms:us-east-1:111122223333:key/0b3f2d7e"
		o.LifecyclePolicy = lifecyclePolicy
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- e.EnsureRepository(ctx, "team/bitnami/nginx") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("EnsureRepository: %v", err)
		}
	}
	if err := e.EnsureRepository(ctx, "team/bitnami/nginx"); err != nil {
		t.Fatal(err)
	}
	if c, p := sim.Calls("CreateRepository"), sim.Calls("PutLifecyclePolicy"); c != 1 || p != 1 {
		t.Fatalf("CreateRepository = %d, PutLifecyclePolicy = %d calls; want 1 each for 17 callers", c, p)
	}
	r, ok := sim.Repository("team/bitnami/nginx")
	if !ok {
		t.Fatal("repository not created")
	}
	if r.ImageTagMutability != "IMMUTABLE" || !r.ScanOnPush || r.EncryptionType != "KMS" ||
		r.KMSKey != "arn:aws:kms:us-east-1:111122223333:key/0b3f2d7e" || r.LifecyclePolicy != lifecyclePolicy {
		t.Fatalf("repository settings = %+v", r)
	}
	// A repository the run created is known empty: its preflight asks nothing.
	before := sim.TotalCalls()
	_, exists, err := e.TagDigest(ctx, registry.ImageRef{Registry: sim.Host, Repository: "team/bitnami/nginx", Tag: "1.27.2"})
	if err != nil || exists || sim.TotalCalls() != before {
		t.Fatalf("TagDigest on a new repository: exists=%v err=%v, %d calls; want none", exists, err, sim.TotalCalls()-before)
	}
}

func TestECREnsureRepositoryAlreadyExistsIsSuccess(t *testing.T) {
	sim := ecrsim.New(t)
	ctx := context.Background()
	if _, err := sim.Client().CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("library/traefik")}); err != nil {
		t.Fatal(err)
	}
	e := newECR(t, sim, func(o *Options) {
		o.CreateRepositories, o.ImmutableTags, o.LifecyclePolicy = true, true, lifecyclePolicy
	})
	if err := e.EnsureRepository(ctx, "library/traefik"); err != nil {
		t.Fatalf("EnsureRepository of an existing repository: %v", err)
	}
	if c := sim.Calls("CreateRepository"); c != 2 {
		t.Fatalf("CreateRepository calls = %d, want 2 (setup + ours)", c)
	}
	r, _ := sim.Repository("library/traefik")
	if r.ImageTagMutability != "MUTABLE" || r.LifecyclePolicy != "" || sim.Calls("PutLifecyclePolicy") != 0 {
		t.Fatalf("an existing repository's settings were changed: %+v", r)
	}
}

func TestECREnsureRepositoryRefusesInvalidNamesBeforeAnyCall(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
	before := sim.TotalCalls()
	for _, n := range []string{"Bitnami/nginx", "a", "x//y", "-lead/x", "trail-", "a..b", "sp ace", strings.Repeat("a", 257)} {
		err := e.EnsureRepository(context.Background(), n)
		if err == nil || !strings.Contains(err.Error(), n) {
			t.Fatalf("EnsureRepository(%q) = %v, want an error naming the repository", n, err)
		}
	}
	if sim.TotalCalls() != before {
		t.Fatalf("%d control-plane calls for invalid names, want 0", sim.TotalCalls()-before)
	}
	for _, n := range []string{"ab", "team-a/bitnami/nginx", "ingress-nginx/kube-webhook-certgen", "a.b_c-d/e", strings.Repeat("a", 256)} {
		if err := ValidateRepositoryName(n); err != nil {
			t.Fatalf("ValidateRepositoryName(%q) = %v, want ok", n, err)
		}
	}
}

func TestECRPushIntoUncreatedRepositoryIsNameUnknown(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, func(o *Options) { o.CreateRepositories = false })
	ctx := context.Background()
	if err := e.EnsureRepository(ctx, "bitnami/redis"); err != nil || sim.Calls("CreateRepository") != 0 {
		t.Fatalf("EnsureRepository with creation off: %v, %d calls; want nothing done", err, sim.Calls("CreateRepository"))
	}
	img := randomImage(t)
	err := push(e, sim.Host+"/bitnami/redis:7", img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound || terr.Errors[0].Code != transport.NameUnknownErrorCode {
		t.Fatalf("push into an uncreated repository: %v, want 404 NAME_UNKNOWN", err)
	}
	creating := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
	if err := creating.EnsureRepository(ctx, "bitnami/redis"); err != nil {
		t.Fatal(err)
	}
	if err := push(creating, sim.Host+"/bitnami/redis:7", img); err != nil {
		t.Fatalf("push after EnsureRepository: %v", err)
	}
	// With a repository creation template the push itself creates the repository.
	tmpl := ecrsim.New(t, ecrsim.WithCreateOnPush())
	if err := push(newECR(t, tmpl, nil), tmpl.Host+"/bitnami/redis:7", img); err != nil {
		t.Fatalf("push with create-on-push: %v", err)
	}
	if _, ok := tmpl.Repository("bitnami/redis"); !ok || tmpl.Calls("CreateRepository") != 0 {
		t.Fatal("create-on-push did not create the repository")
	}
}

func TestECRDeleteTag(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
	ctx := context.Background()
	if err := e.EnsureRepository(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	for _, tag := range []string{"a", "b"} {
		if err := push(e, sim.Host+"/app:"+tag, img); err != nil {
			t.Fatal(err)
		}
	}
	d, _ := img.Digest()
	ref := func(tag string) registry.ImageRef {
		return registry.ImageRef{Registry: sim.Host, Repository: "app", Tag: tag}
	}
	e.Record(ref("a"), d.String())
	e.Record(ref("b"), d.String())
	if err := e.DeleteTag(ctx, ref("a")); err != nil {
		t.Fatalf("DeleteTag a: %v", err)
	}
	list := func() map[string]string {
		out, err := sim.Client().ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, id := range out.ImageIds {
			m[aws.ToString(id.ImageTag)] = aws.ToString(id.ImageDigest)
		}
		return m
	}
	if got := list(); len(got) != 1 || got["b"] != d.String() {
		t.Fatalf("after deleting tag a: images %v, want only b → %s", got, d)
	}
	calls := sim.Calls("ListImages")
	if _, exists, _ := e.TagDigest(ctx, ref("a")); exists || sim.Calls("ListImages") != calls {
		t.Fatal("preflight still sees the deleted tag, or listed again")
	}
	if err := e.DeleteTag(ctx, ref("b")); err != nil {
		t.Fatalf("DeleteTag b: %v", err)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("after deleting the last tag: images %v, want none (ECR deletes the image)", got)
	}
	if err := e.DeleteTag(ctx, ref("never")); err != nil {
		t.Fatalf("DeleteTag of a missing tag: %v, want nil", err)
	}
	if err := e.DeleteTag(ctx, registry.ImageRef{Registry: sim.Host, Repository: "no/such/repo", Tag: "x"}); err != nil {
		t.Fatalf("DeleteTag in a missing repository: %v, want nil", err)
	}
	if sim.Calls("BatchDeleteImage") != 4 {
		t.Fatalf("BatchDeleteImage calls = %d, want 4", sim.Calls("BatchDeleteImage"))
	}
}

func TestECRImmutableTagConflictIsRecognizable(t *testing.T) {
	sim := ecrsim.New(t)
	e := newECR(t, sim, func(o *Options) { o.CreateRepositories, o.ImmutableTags = true, true })
	if err := e.EnsureRepository(context.Background(), "locked/app"); err != nil {
		t.Fatal(err)
	}
	if err := push(e, sim.Host+"/locked/app:v1", randomImage(t)); err != nil {
		t.Fatal(err)
	}
	err := push(e, sim.Host+"/locked/app:v1", randomImage(t))
	if !registry.IsImmutableTagConflict(err) {
		t.Fatalf("moving an immutable tag: registry.IsImmutableTagConflict(%v) = false", err)
	}
	if registry.IsImmutableTagConflict(push(e, sim.Host+"/never/made:v1", randomImage(t))) {
		t.Fatal("NAME_UNKNOWN taken for an immutable tag conflict")
	}
	api := &ecrtypes.ImageTagAlreadyExistsException{Message: aws.String("tag v1 exists")}
	if !registry.IsImmutableTagConflict(errors.Join(errors.New("PutImage"), api)) || registry.IsImmutableTagConflict(nil) {
		t.Fatal("ImageTagAlreadyExistsException not recognized, or nil taken for a conflict")
	}
}

func TestECRDefaultRegistryFromSTS(t *testing.T) {
	sim := ecrsim.New(t, ecrsim.WithAccount("444455556666"), ecrsim.WithRegion("eu-west-1"))
	e, err := New(context.Background(), Options{AWSConfig: sim.AWSConfig(), Endpoint: sim.URL})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Registry(), "444455556666.dkr.ecr.eu-west-1.amazonaws.com"; got != want {
		t.Fatalf("Registry() = %q, want %q", got, want)
	}
	if sim.Calls("GetCallerIdentity") != 1 {
		t.Fatalf("GetCallerIdentity calls = %d, want 1", sim.Calls("GetCallerIdentity"))
	}
	// The API calls name the account's registry.
	if _, _, err := e.TagDigest(context.Background(), registry.ImageRef{Registry: e.Registry(), Repository: "x/y", Tag: "1"}); err != nil {
		t.Fatalf("TagDigest on the default registry: %v", err)
	}
	if config.ECRHost("111122223333", "cn-north-1") != "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn" {
		t.Fatal("China regions live under amazonaws.com.cn")
	}
	if _, err := New(context.Background(), Options{AWSConfig: aws.Config{Credentials: sim.AWSConfig().Credentials}, Endpoint: sim.URL}); err == nil {
		t.Fatal("New without a region or registry host: want an error")
	}
}

func TestECRMountPolicyFollowsBlobMounting(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		sim := ecrsim.New(t, ecrsim.WithBlobMounting(enabled))
		e := newECR(t, sim, func(o *Options) { o.CreateRepositories = true })
		if e.MountsBlobs(context.Background()) != enabled {
			t.Fatalf("BLOB_MOUNTING %v: MountsBlobs() = %v", enabled, !enabled)
		}
		ctx := context.Background()
		for _, r := range []string{"base", "app"} {
			if err := e.EnsureRepository(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := push(e, sim.Host+"/base:v1", randomImage(t)); err != nil {
			t.Fatal(err)
		}
		src, _ := name.NewTag(sim.Host + "/base:v1")
		img, err := remote.Image(src, remote.WithAuthFromKeychain(e.Keychain()))
		if err != nil {
			t.Fatal(err)
		}
		sim.ResetCounts()
		if err := push(e, sim.Host+"/app:v1", img); err != nil { // go-containerregistry tries a mount from base
			t.Fatal(err)
		}
		want := http.StatusAccepted // an upload session: ECR does not mount
		if enabled {
			want = http.StatusCreated
		}
		mounts := 0
		for _, q := range sim.Requests() {
			if q.Kind == registrytest.Mount {
				mounts++
				if q.Status != want {
					t.Fatalf("BLOB_MOUNTING %v: mount answered %d, want %d", enabled, q.Status, want)
				}
			}
		}
		if mounts == 0 {
			t.Fatalf("no mount attempted: %v", sim.Requests())
		}
	}
}

func TestIsECRHost(t *testing.T) {
	for host, want := range map[string][2]string{
		"111122223333.dkr.ecr.us-east-1.amazonaws.com":          {"111122223333", "us-east-1"},
		"111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn":      {"111122223333", "cn-north-1"},
		"111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com": {"111122223333", "us-gov-west-1"},
		"111122223333.dkr-ecr.eu-west-1.on.aws":                 {"111122223333", "eu-west-1"},
		"111122223333.dkr.ecr.us-east-1.amazonaws.com:443":      {"111122223333", "us-east-1"},
	} {
		a, r, ok := config.IsECRHost(host)
		if !ok || a != want[0] || r != want[1] {
			t.Fatalf("config.IsECRHost(%q) = %q %q %v", host, a, r, ok)
		}
	}
	for _, host := range []string{"public.ecr.aws", "docker.io", "1111.dkr.ecr.us-east-1.amazonaws.com", "111122223333.dkr.ecr.us-east-1.amazonaws.com.evil.io", "localhost:5000"} {
		if _, _, ok := config.IsECRHost(host); ok {
			t.Fatalf("config.IsECRHost(%q) = true", host)
		}
	}
	if !config.IsECRPublicHost("public.ecr.aws") || config.IsECRPublicHost("ecr.aws") {
		t.Fatal("config.IsECRPublicHost")
	}
}
