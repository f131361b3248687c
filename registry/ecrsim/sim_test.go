package ecrsim_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// login returns data-plane credentials from GetAuthorizationToken, as docker login does.
func login(t *testing.T, c *ecr.Client) authn.Authenticator {
	t.Helper()
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	return &authn.Basic{Username: user, Password: pass}
}

func createRepo(t *testing.T, c *ecr.Client, name string, mut types.ImageTagMutability) {
	t.Helper()
	_, err := c.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: mut})
	if err != nil {
		t.Fatalf("CreateRepository %s: %v", name, err)
	}
}

func TestSimRepositoryErrors(t *testing.T) {
	sim := ecrsim.New(t)
	c, ctx := sim.Client(), context.Background()
	createRepo(t, c, "team/app", "")
	_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateRepository: %v, want RepositoryAlreadyExistsException", err)
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Team/App")})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Fatalf("CreateRepository Team/App: %v, want InvalidParameterException", err)
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("nope")})
	var notFound *types.RepositoryNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("ListImages nope: %v, want RepositoryNotFoundException", err)
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/app"), MaxResults: aws.Int32(1001)})
	if !errors.As(err, &invalid) {
		t.Fatalf("ListImages maxResults 1001: %v, want InvalidParameterException", err)
	}
	ids := make([]types.ImageIdentifier, 101)
	for i := range ids {
		ids[i] = types.ImageIdentifier{ImageTag: aws.String(fmt.Sprint("t", i))}
	}
	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids})
	if !errors.As(err, &invalid) {
		t.Fatalf("BatchDeleteImage of 101 ids: %v, want InvalidParameterException", err)
	}
	out, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids[:2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 2 || out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Fatalf("BatchGetImage of missing tags: failures %+v, want 2 ImageNotFound", out.Failures)
	}
	if got := sim.Calls("CreateRepository"); got != 3 {
		t.Fatalf("CreateRepository calls = %d, want 3", got)
	}
}

func TestSimDataPlane(t *testing.T) {
	sim := ecrsim.New(t)
	c := sim.Client()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(sim.Host + "/never/created:v1")
	// no credentials: 401 with ECR's Basic challenge
	err = remote.Write(ref, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous push: %v, want 401", err)
	}
	auth := login(t, c)
	err = remote.Write(ref, img, remote.WithAuth(auth))
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound || terr.Errors[0].Code != transport.NameUnknownErrorCode {
		t.Fatalf("push into a repository never created: %v, want 404 NAME_UNKNOWN", err)
	}
	createRepo(t, c, "never/created", "")
	if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push after CreateRepository: %v", err)
	}
	d, _ := img.Digest()
	out, err := c.ListImages(context.Background(), &ecr.ListImagesInput{RepositoryName: aws.String("never/created")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ImageIds) != 1 || aws.ToString(out.ImageIds[0].ImageTag) != "v1" || aws.ToString(out.ImageIds[0].ImageDigest) != d.String() {
		t.Fatalf("ListImages after push = %+v, want v1 → %s", out.ImageIds, d)
	}
	refused := 0
	for _, q := range sim.Requests() {
		if q.Kind == registrytest.UploadStart && q.Status == http.StatusNotFound {
			refused++
		}
	}
	if refused == 0 || sim.Count(registrytest.ManifestPut) != 1 {
		t.Fatalf("want uploads refused with 404 and one manifest PUT, saw %v", sim.Requests())
	}
}

func TestSimExpiredTokenDenied(t *testing.T) {
	sim := ecrsim.New(t, ecrsim.WithTokenTTL(-time.Second))
	auth := login(t, sim.Client())
	createRepo(t, sim.Client(), "app", "")
	ref, _ := name.NewTag(sim.Host + "/app:v1")
	_, err := remote.Head(ref, remote.WithAuth(auth))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden {
		t.Fatalf("HEAD with an expired token: %v, want 403", err)
	}
}

func TestSimImmutableTag(t *testing.T) {
	sim := ecrsim.New(t)
	c := sim.Client()
	createRepo(t, c, "locked", types.ImageTagMutabilityImmutable)
	auth := login(t, c)
	ref, _ := name.NewTag(sim.Host + "/locked:v1")
	a, _ := random.Image(256, 1)
	b, _ := random.Image(256, 1)
	if err := remote.Write(ref, a, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, a, remote.WithAuth(auth)); err != nil {
		t.Fatalf("re-push of the same manifest: %v", err)
	}
	err := remote.Write(ref, b, remote.WithAuth(auth))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.Errors[0].Code != transport.TagInvalidErrorCode || !strings.Contains(terr.Errors[0].Message, "immutable") {
		t.Fatalf("moving an immutable tag: %v, want TAG_INVALID … immutable", err)
	}
}

func TestSimListingsPageAndAgreeWithTheRegistry(t *testing.T) {
	sim := ecrsim.New(t)
	c, ctx := sim.Client(), context.Background()
	createRepo(t, c, "paged", "")
	img, _ := random.Image(300, 2)
	d, _ := img.Digest()
	pusher, _ := remote.NewPusher()
	for i := range 250 {
		ref, _ := name.NewTag(fmt.Sprintf("%s/paged:t%03d", sim.Backend.Host, i), name.Insecure)
		if err := pusher.Push(ctx, ref, img); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	var sizes []int
	p := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: aws.String("paged")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(out.ImageIds))
		for _, id := range out.ImageIds {
			if aws.ToString(id.ImageDigest) != d.String() || seen[aws.ToString(id.ImageTag)] {
				t.Fatalf("bad or repeated id %+v", id)
			}
			seen[aws.ToString(id.ImageTag)] = true
		}
	}
	if fmt.Sprint(sizes) != "[100 100 50]" || len(seen) != 250 {
		t.Fatalf("default pages = %v over %d tags, want [100 100 50] over 250", sizes, len(seen))
	}
	desc, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("paged"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("t007")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.ImageDetails) != 1 || len(desc.ImageDetails[0].ImageTags) != 250 || aws.ToInt64(desc.ImageDetails[0].ImageSizeInBytes) <= 0 {
		t.Fatalf("DescribeImages t007 = %+v, want one image with 250 tags and a size", desc.ImageDetails)
	}
	got, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("paged"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("t001")}}})
	if err != nil || len(got.Images) != 1 || aws.ToString(got.Images[0].ImageId.ImageDigest) != d.String() {
		t.Fatalf("BatchGetImage t001 = %+v, %v", got, err)
	}
	raw, _ := img.RawManifest()
	if aws.ToString(got.Images[0].ImageManifest) != string(raw) {
		t.Fatal("BatchGetImage manifest differs from the pushed one")
	}
	del, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("paged"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d.String())}}})
	if err != nil || len(del.ImageIds) != 1 || len(del.Failures) != 0 {
		t.Fatalf("BatchDeleteImage by digest = %+v, %v", del, err)
	}
	left, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("paged")})
	if err != nil || len(left.ImageIds) != 0 {
		t.Fatalf("after deleting the image by digest: %+v %v, want no images", left, err)
	}
}
