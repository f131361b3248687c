package auth

import (
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/google/go-containerregistry/pkg/authn"
)

// flagKeychain answers with the credentials given on the command line or in the
// environment: Docker Hub user/token, the public ECR password, the private ECR password.
type flagKeychain struct {
	hubUser, hubToken string
	publicECR         string
	privateECR        string
}

// Resolve implements authn.Keychain. It never returns an error; a host it has nothing for
// is anonymous, so the next keychain of the chain is asked.
func (k flagKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	host := res.RegistryStr()
	switch {
	case config.HostKey(host) == config.DockerHub && k.hubToken != "":
		user := k.hubUser
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: k.hubToken}), nil
	case host == "public.ecr.aws" && k.publicECR != "":
		return authn.FromConfig(authn.AuthConfig{Username: "AWS", Password: k.publicECR}), nil
	case isPrivateECR(host) && k.privateECR != "":
		return authn.FromConfig(authn.AuthConfig{Username: "AWS", Password: k.privateECR}), nil
	}
	return authn.Anonymous, nil
}

// Credentials are what a run is given to authenticate with, besides the files every
// registry tool reads (docker config.json, credential helpers, helm registry login).
type Credentials struct {
	// HostKeychains are asked before anything else: credentials the configuration gives
	// for particular hosts (an OCI chart repository's username and password).
	HostKeychains []authn.Keychain
	// Keychains are asked after flags and docker config.json, before anonymous (ECR).
	Keychains []authn.Keychain
	// From flags or the environment; empty: not used.
	DockerHubUser, DockerHubToken, PublicECRPassword, PrivateECRPassword string
}

// NewChain is the auth chain: the configuration's per-host credentials, flags/env, then
// docker config.json and its credential helpers (or $REGISTRY_AUTH_FILE), then what
// `helm registry login` saved, then the extra keychains (ECR), then anonymous. The first
// keychain that has something for a host wins; the chain remembers which (sources.go).
func NewChain(opts Credentials) *Chain {
	fixed := func(origin string) func(string) string { return func(string) string { return origin } }
	var links []credentialLink
	for _, k := range opts.HostKeychains {
		links = append(links, credentialLink{k, fixed("the addon's username and password (values or catalog file)")})
	}
	helm := &helmKeychain{}
	links = append(links,
		credentialLink{flagKeychain{
			hubUser:    opts.DockerHubUser,
			hubToken:   opts.DockerHubToken,
			publicECR:  opts.PublicECRPassword,
			privateECR: opts.PrivateECRPassword,
		}, flagOrigin},
		credentialLink{authn.DefaultKeychain, dockerConfigOrigin},
		credentialLink{helm, helm.origin},
	)
	for _, k := range opts.Keychains {
		links = append(links, credentialLink{k, fixed("ECR authorization token (AWS SDK credentials)")})
	}
	return &Chain{links: links}
}

func isPrivateECR(host string) bool {
	_, _, ok := config.IsECRHost(host)
	return ok
}
