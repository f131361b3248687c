package stages

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// kubeAPIServerGroups are the API groups with a dot that kube-apiserver itself serves
// (and metrics.k8s.io, the Kubernetes project's aggregated metrics API). Their kinds are
// Kubernetes' own: they hold images only in pod templates, which the container walk
// reads. Every other group with a dot is a custom resource's: CRD groups must have one.
var kubeAPIServerGroups = map[string]bool{
	"admissionregistration.k8s.io": true, "apiextensions.k8s.io": true, "apiregistration.k8s.io": true,
	"authentication.k8s.io": true, "authorization.k8s.io": true, "certificates.k8s.io": true,
	"coordination.k8s.io": true, "discovery.k8s.io": true, "events.k8s.io": true,
	"flowcontrol.apiserver.k8s.io": true, "internal.apiserver.k8s.io": true, "networking.k8s.io": true,
	"node.k8s.io": true, "rbac.authorization.k8s.io": true, "resource.k8s.io": true,
	"scheduling.k8s.io": true, "storage.k8s.io": true, "storagemigration.k8s.io": true,
	"metrics.k8s.io": true,
}

// isCoreGroup reports whether an API group is Kubernetes' own: the core group "", a group
// without a dot (apps, batch, policy, autoscaling, …: CRD groups need a dot), or one of
// kubeAPIServerGroups. Groups the Kubernetes project defines as CRDs
// (gateway.networking.k8s.io, snapshot.storage.k8s.io, autoscaling.k8s.io) and any
// operator's group are custom resources.
func isCoreGroup(group string) bool {
	return group == "" || !strings.Contains(group, ".") || kubeAPIServerGroups[group]
}

// customResource scans a custom resource of any kind for images, outside its metadata,
// status and container lists (those are the container walk's):
//   - a string under a key naming an image ("image", "baseImage", "imageName",
//     "sidecarImage", a list under "images"), accepted by keyedImageRef: Docker Hub
//     references without a host count, an untagged one needs a '/' (bitnami/nginx:
//     latest), single words never do;
//   - references kept apart in one map: image: {repository, tag}, imageRepository +
//     imageTag, repository + image + version (an operator's policy resource), an untagged
//     image + version (Prometheus' image and version);
//   - any other string is text (scanText): full references anywhere in it, as an
//     operator's configuration resource lists them.
//
// Values are parsed strictly and a field that is not a reference is skipped, not an
// error: the kind's schema is unknown. Every occurrence is non-pod.
func (c *collector) customResource(obj *yaml.Node, base Location) {
	c.crMapping(obj, "", false, base, true)
}

func (c *collector) crMapping(n *yaml.Node, path string, marked bool, base Location, root bool) {
	g := partGroups{marked: marked}
	forPairs(n, func(k string, v *yaml.Node) {
		if root && (k == "apiVersion" || k == "kind" || k == "metadata" || k == "status") {
			return
		}
		if containerLists[k] && v.Kind == yaml.SequenceNode {
			return
		}
		kc := classifyKey(k)
		if kc.role == roleLabel {
			return
		}
		loc := base
		loc.Path = joinPath(path, k)
		switch v.Kind {
		case yaml.ScalarNode:
			c.crScalar(&g, kc, v, loc)
		case yaml.MappingNode:
			c.crMapping(v, loc.Path, marked || kc.role == roleImage || kc.mentionsImage, base, false)
		case yaml.SequenceNode:
			c.crSequence(v, kc, marked, base, loc.Path)
		}
	})
	c.addComposed(&g, true)
}

func (c *collector) crScalar(g *partGroups, kc keyClass, v *yaml.Node, loc Location) {
	switch {
	case kc.role == roleNone:
		if isString(v) {
			c.scanText(v.Value, loc)
		}
	case kc.role == roleImage:
		if !isString(v) {
			return
		}
		if hasTagOrDigest(strings.TrimSpace(v.Value)) {
			c.imageValue(v.Value, loc, false)
		} else {
			g.add(kc, v.Value, loc)
		}
	case isString(v) || isNumber(v) && (kc.role == roleTag || kc.role == roleVersion):
		g.add(kc, v.Value, loc)
	}
}

func (c *collector) crSequence(v *yaml.Node, kc keyClass, marked bool, base Location, path string) {
	for i, e := range items(v) {
		loc := base
		loc.Path = indexPath(path, i)
		switch e.Kind {
		case yaml.ScalarNode:
			if !isString(e) {
				continue
			}
			if kc.role == roleImage {
				c.imageValue(e.Value, loc, false)
			} else if kc.role == roleNone {
				c.scanText(e.Value, loc)
			}
		case yaml.MappingNode:
			c.crMapping(e, loc.Path, marked || kc.role == roleImage || kc.mentionsImage, base, false)
		case yaml.SequenceNode:
			c.crSequence(e, kc, marked, base, loc.Path)
		}
	}
}
