package config

import (
	"reflect"
	"testing"
)

func TestFilter(t *testing.T) {
	addons := []Addon{
		{Chart: "loki", OCINamespace: "grafana", Release: "logs"},
		{Chart: "karpenter", Release: "karpenter"},
		{Chart: "aws-load-balancer-controller", Release: "alb"},
		{Chart: "argo-cd", Release: "argocd"},
	}
	names := func(as []Addon) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Release)
		}
		return out
	}
	cases := []struct {
		name          string
		mode          Mode
		only, exclude string
		want          []string
		warnings      []string
	}{
		{"no filters keep all", ModeValues, "", "", []string{"logs", "karpenter", "alb", "argocd"}, nil},
		{"values mode matches charts, case-insensitive, spaces trimmed", ModeValues, " AWS-Load-Balancer-Controller , karpenter", "", []string{"karpenter", "alb"}, nil},
		{"values mode accepts the chart path", ModeValues, "grafana/loki", "", []string{"logs"}, nil},
		{"values mode does not match releases", ModeValues, "alb", "", nil,
			[]string{`--only-addon "alb" matches no addon (values mode matches chart names)`}},
		{"exact, not prefix", ModeValues, "karp", "", nil,
			[]string{`--only-addon "karp" matches no addon (values mode matches chart names)`}},
		{"catalog mode matches releases", ModeCatalog, "ALB,logs", "", []string{"logs", "alb"}, nil},
		{"catalog mode does not match charts", ModeCatalog, "", "argo-cd", []string{"logs", "karpenter", "alb", "argocd"},
			[]string{`--exclude-addons "argo-cd" matches no addon (catalog mode matches release names)`}},
		{"exclude after only", ModeCatalog, "logs,alb,argocd", "argocd,,nothing", []string{"logs", "alb"},
			[]string{`--exclude-addons "nothing" matches no addon (catalog mode matches release names)`}},
		{"unknown names warned once each", ModeCatalog, "x,X,y", "", nil,
			[]string{`--only-addon "x" matches no addon (catalog mode matches release names)`, `--only-addon "y" matches no addon (catalog mode matches release names)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kept, warnings := Filter(addons, tc.mode, tc.only, tc.exclude)
			if got := names(kept); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings %q, want %q", warnings, tc.warnings)
			}
		})
	}
}
