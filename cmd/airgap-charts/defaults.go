package main

import (
	"runtime"
	"strconv"

	"github.com/alecthomas/kong"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"github.com/airgap-charts/airgap-charts/stages"
)

// defaultVars are the defaults flags and help read (${name}), each taken from the one
// place it is defined.
func defaultVars() kong.Vars {
	return kong.Vars{
		"cpus":                  strconv.Itoa(runtime.NumCPU()),
		"concurrency":           strconv.Itoa(registry.DefaultConcurrency),
		"kube_version":          stages.DefaultKubeVersion,
		"ecr_put_image_rate":    strconv.Itoa(transport.ECRPutImageQuota),
		"ecr_layer_upload_rate": strconv.Itoa(transport.ECRLayerUploadQuota),
	}
}
