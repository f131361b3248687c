package engine

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
)

// gatePublicImages decides, once the addon's images are in place, whether its chart may be
// published: every image a verification render still pulls from outside the destination
// must be allowed (--allow-public-images, or the chart's public_images in
// chart-overrides.yaml). It marks the allowed ones, warns about each, and returns the
// first image not allowed and how many are not.
func (e *runEnv) gatePublicImages(a config.Addon, rep *AddonReport, log *zap.Logger) (left int, first PublicImage) {
	for i := range rep.PublicImages {
		pi := &rep.PublicImages[i]
		pi.Allowed = e.opts.AllowPublicImages || allowedPublic(e.opts.PublicImages, a.Chart, pi.Image)
		fields := []zap.Field{zap.String("image", pi.Image), zap.String("render", pi.Render), zap.String("where", pi.Where), zap.String("reason", pi.Reason)}
		if pi.Allowed {
			why := "--allow-public-images"
			if !e.opts.AllowPublicImages {
				why = "public_images of chart " + a.Chart + " in chart-overrides.yaml"
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("image %s stays public (%s render, %s), allowed by %s", pi.Image, pi.Render, pi.Where, why))
			log.Warn("image stays public: allowed", append(fields, zap.String("allowed_by", why))...)
			continue
		}
		if left == 0 {
			first = *pi
		}
		left++
		log.Warn("image stays public", fields...)
	}
	return left, first
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
