package ecr

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// LoadAWSConfig is the AWS SDK's default configuration (environment, shared config and
// credentials files, SSO, instance and container roles) for an ECR destination: in the
// region of host when host names an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com),
// else the configured one. host may be empty (the account's default registry).
func LoadAWSConfig(ctx context.Context, host string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if _, region, ok := config.IsECRHost(host); ok {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration for ECR: %w", err)
	}
	return cfg, nil
}
