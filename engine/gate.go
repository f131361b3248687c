package engine

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// gatePublicImages decides, once the addon's images are in place, whether its chart may be
// published: every image a verification render still pulls from outside the destination
// must be allowed (--allow-public-images, or the chart's public_images in
// chart-overrides.yaml). It marks the allowed ones and logs one line per distinct image
// (a warning; the run's verdict for the others is the caller's error), and returns how
// many distinct images are not allowed and the first finding of one.
func (e *runEnv) gatePublicImages(a config.Addon, rep *AddonReport, log *zap.Logger) (left int, first PublicImage) {
	renders := map[string][]string{}
	var order []string
	for i := range rep.PublicImages {
		pi := &rep.PublicImages[i]
		pi.Allowed = e.opts.AllowPublicImages || allowedPublic(e.opts.PublicImages, a.Chart, pi.Image)
		if _, seen := renders[pi.Image]; !seen {
			order = append(order, pi.Image)
			if !pi.Allowed {
				if left == 0 {
					first = *pi
				}
				left++
			}
		}
		renders[pi.Image] = append(renders[pi.Image], pi.Render)
	}
	why := "--allow-public-images"
	if !e.opts.AllowPublicImages {
		why = "public_images of chart " + a.Chart + " in chart-overrides.yaml"
	}
	for _, img := range order {
		pi := firstFinding(rep.PublicImages, img)
		fields := []zap.Field{zap.String("image", img), zap.Strings("renders", renders[img]), zap.String("where", pi.Where), zap.String("reason", pi.Reason)}
		if !pi.Allowed {
			log.Warn("image stays public", fields...)
			continue
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("image %s stays public (%s render at %s), allowed by %s",
			img, strings.Join(renders[img], " and "), pi.Where, why))
		log.Warn("image stays public: allowed", append(fields, zap.String("allowed_by", why))...)
	}
	return left, first
}

func firstFinding(list []PublicImage, image string) PublicImage {
	for _, p := range list {
		if p.Image == image {
			return p
		}
	}
	return PublicImage{}
}

// distinctPublic counts the distinct images among an addon's public image findings (one
// image may be found by both verification renders).
func distinctPublic(list []PublicImage) int {
	seen := map[string]bool{}
	for _, p := range list {
		seen[p.Image] = true
	}
	return len(seen)
}

// allowedPublic reports whether chart's public_images list covers image (a normalized
// reference as the verification reports it).
func allowedPublic(lists config.PublicImages, chart, image string) bool {
	if len(lists[chart]) == 0 {
		return false
	}
	ref, err := registry.ParseImageRef(image)
	if err != nil {
		return false
	}
	return lists.Allows(chart, ref.Name(), ref.Tag, ref.Digest)
}

// publicImagesError is the INCOMPLETE addon's error: how many images remain public and
// the first of them, with the ways to let them be.
func publicImagesError(left int, first PublicImage) error {
	what := "1 image remains public"
	if left > 1 {
		what = fmt.Sprintf("%d images remain public", left)
	}
	where := first.Where
	if where == "" {
		where = "?"
	}
	return fmt.Errorf("%s after the rewrite; chart not published (first: %s in the %s render at %s: %s); mirror it by hand and set it in chart-overrides.yaml, list it under public_images, or pass --allow-public-images",
		what, first.Image, first.Render, where, first.Reason)
}
