package stages

import (
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
)

// One values helper for the chart stages (render, dependencies, fallbacks, rewrite,
// consumer overrides) and the engine: copy, merge, look up and set values trees. The nil
// rule is Helm's: a key set to null in a later layer is null in the merge (and a render
// then treats it as unset), never skipped.

// MergeValues returns the layers merged in order, as `helm -f a -f b` merges files: maps
// merge key by key, anything else in a later layer replaces. No input is modified.
func MergeValues(layers ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, l := range layers {
		out = mergeValues(out, l)
	}
	return out
}

// copyValues deep-copies a values tree.
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}
func copyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return copyValues(t)
	case chartutil.Values:
		return copyValues(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = copyValue(e)
		}
		return s
	default:
		return x
	}
}

// mergeValues returns base with layer merged over it, as `helm -f a -f b` merges files:
// maps merge key by key, anything else in layer replaces. Neither input is modified.
func mergeValues(base, layer map[string]any) map[string]any {
	out := copyValues(base)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range layer {
		if lm, ok := asMap(v); ok {
			if bm, ok := asMap(out[k]); ok {
				out[k] = mergeValues(bm, lm)
				continue
			}
		}
		out[k] = copyValue(v)
	}
	return out
}
func asMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case chartutil.Values:
		return t, true
	}
	return nil, false
}

// lookupPath follows keys (and decimal list indexes) through nested values.
func lookupPath(v any, path []string) any {
	for _, k := range path {
		if m, ok := asMap(v); ok {
			v = m[k]
			continue
		}
		switch t := v.(type) {
		case []any:
			i, ok := listIndex(k, len(t))
			if !ok {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// hasPath reports whether the last key of path exists (even as null).
func hasPath(v any, path []string) bool {
	if len(path) == 0 {
		return v != nil
	}
	switch t := lookupPath(v, path[:len(path)-1]).(type) {
	case map[string]any:
		_, ok := t[path[len(path)-1]]
		return ok
	case []any:
		_, ok := listIndex(path[len(path)-1], len(t))
		return ok
	}
	return false
}
func listIndex(k string, n int) (int, bool) {
	i := 0
	if k == "" {
		return 0, false
	}
	for _, r := range k {
		if r < '0' || r > '9' {
			return 0, false
		}
		i = i*10 + int(r-'0')
	}
	return i, i < n
}

// setPath sets path in nested values, making maps where keys are missing.
func setPath(values map[string]any, path []string, v any) error {
	if len(path) == 0 {
		return fmt.Errorf("empty path")
	}
	var cur any = values
	for i, k := range path {
		last := i == len(path)-1
		switch t := cur.(type) {
		case map[string]any:
			if last {
				t[k] = v
				return nil
			}
			next := t[k]
			if next == nil {
				next = map[string]any{}
				t[k] = next
			}
			cur = next
		case []any:
			idx, ok := listIndex(k, len(t))
			if !ok {
				return fmt.Errorf("no list element %s", k)
			}
			if last {
				t[idx] = v
				return nil
			}
			cur = t[idx]
		default:
			return fmt.Errorf("%s is not a map or list", strings.Join(path[:i], "."))
		}
	}
	return nil
}
