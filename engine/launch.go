package engine

import "github.com/airgap-charts/airgap-charts/config"

// launchOrder is the order addons start in when only so many may be started at once
// (Bounds.AddonsInFlight): the members of a chart group one after the other, the groups in
// the order their first member appears. A member waits for its peers to add their images
// (chartgroup.go), so its peers must be able to start while it waits: started together,
// and with a limit no smaller than the largest group (the second result), they always can.
func launchOrder(addons []config.Addon) (order []int, largestGroup int) {
	byGroup := map[string][]int{}
	var keys []string
	for i, a := range addons {
		k := chartGroupKey(a)
		if byGroup[k] == nil {
			keys = append(keys, k)
		}
		byGroup[k] = append(byGroup[k], i)
	}
	for _, k := range keys {
		order = append(order, byGroup[k]...)
		largestGroup = max(largestGroup, len(byGroup[k]))
	}
	return order, largestGroup
}
