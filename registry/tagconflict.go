package registry

import (
	"errors"
	"strings"

	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// IsImmutableTagConflict reports whether err is ECR refusing to move a tag of an
// IMMUTABLE repository: ImageTagAlreadyExistsException from the API, or a manifest PUT
// answered TAG_INVALID "…cannot be overwritten because the repository is immutable".
func IsImmutableTagConflict(err error) bool {
	if err == nil {
		return false
	}
	var exists *ecrtypes.ImageTagAlreadyExistsException
	if errors.As(err, &exists) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ImageTagAlreadyExistsException" {
		return true
	}
	var terr *ggcrtransport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			if d.Code == ggcrtransport.TagInvalidErrorCode && strings.Contains(strings.ToLower(d.Message), "immutable") {
				return true
			}
		}
	}
	return false
}
