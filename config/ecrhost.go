package config

import (
	"regexp"
	"strings"
)

// ECRPublicHost is the host of Amazon ECR Public.
const ECRPublicHost = "public.ecr.aws"

var ecrHostPatterns = []*regexp.Regexp{
	// 111122223333.dkr.ecr.us-east-1.amazonaws.com, …dkr.ecr-fips…, cn regions under .com.cn
	regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`),
	// dual-stack endpoints: 111122223333.dkr-ecr.us-east-1.on.aws
	regexp.MustCompile(`^([0-9]{12})\.dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws$`),
}

// IsECRHost reports whether host (a port is ignored) is a private ECR registry and returns
// its account and region. public.ecr.aws is not: see IsECRPublicHost.
func IsECRHost(host string) (account, region string, ok bool) {
	h := strings.ToLower(strings.TrimSuffix(host, ":443"))
	for _, re := range ecrHostPatterns {
		if m := re.FindStringSubmatch(h); m != nil {
			return m[1], m[2], true
		}
	}
	return "", "", false
}

// IsECRPublicHost reports whether host is Amazon ECR Public.
func IsECRPublicHost(host string) bool {
	return strings.ToLower(strings.TrimSuffix(host, ":443")) == ECRPublicHost
}

// ECRHost is the private registry host of account in region.
func ECRHost(account, region string) string {
	h := account + ".dkr.ecr." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		h += ".cn"
	}
	return h
}
