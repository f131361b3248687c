package ecrsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// repositoryName is ECR's documented constraint on repository names.
var repositoryName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func validName(name string) error {
	if len(name) < 2 || len(name) > 256 || !repositoryName.MatchString(name) {
		return errorf("InvalidParameterException",
			"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s' and have length between 2 and 256'",
			strings.Trim(repositoryName.String(), "^$"))
	}
	return nil
}

// checkRegistry refuses a registryId of another account.
func (s *Sim) checkRegistry(id string) error {
	if id != "" && id != s.Account {
		return errorf("InvalidParameterException", "Invalid parameter at 'registryId': registry %s is not accessible", id)
	}
	return nil
}

func (s *Sim) repository(registryID, name string) (*Repository, error) {
	if err := s.checkRegistry(registryID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r, ok := s.repos[name]
	s.mu.Unlock()
	if !ok {
		return nil, errorf("RepositoryNotFoundException",
			"The repository with name '%s' does not exist in the registry with id '%s'", name, s.Account)
	}
	return r, nil
}

type createRepositoryInput struct {
	RegistryID                 string `json:"registryId"`
	RepositoryName             string `json:"repositoryName"`
	ImageTagMutability         string `json:"imageTagMutability"`
	ImageScanningConfiguration struct {
		ScanOnPush bool `json:"scanOnPush"`
	} `json:"imageScanningConfiguration"`
	EncryptionConfiguration struct {
		EncryptionType string `json:"encryptionType"`
		KmsKey         string `json:"kmsKey,omitempty"`
	} `json:"encryptionConfiguration"`
}

func (s *Sim) repositoryJSON(r *Repository) map[string]any {
	enc := map[string]any{"encryptionType": r.EncryptionType}
	if r.KMSKey != "" {
		enc["kmsKey"] = r.KMSKey
	}
	return map[string]any{
		"repositoryArn":              "arn:aws:ecr:" + s.Region + ":" + s.Account + ":repository/" + r.Name,
		"registryId":                 s.Account,
		"repositoryName":             r.Name,
		"repositoryUri":              s.Host + "/" + r.Name,
		"createdAt":                  epoch(r.CreatedAt),
		"imageTagMutability":         r.ImageTagMutability,
		"imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush},
		"encryptionConfiguration":    enc,
	}
}

func (s *Sim) createRepository(_ *http.Request, body []byte) (any, error) {
	var in createRepositoryInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	if err := s.checkRegistry(in.RegistryID); err != nil {
		return nil, err
	}
	if err := validName(in.RepositoryName); err != nil {
		return nil, err
	}
	r := &Repository{
		Name: in.RepositoryName, CreatedAt: time.Now(),
		ImageTagMutability: in.ImageTagMutability,
		ScanOnPush:         in.ImageScanningConfiguration.ScanOnPush,
		EncryptionType:     in.EncryptionConfiguration.EncryptionType,
		KMSKey:             in.EncryptionConfiguration.KmsKey,
		pushed:             map[string]time.Time{},
	}
	switch r.ImageTagMutability {
	case "":
		r.ImageTagMutability = "MUTABLE"
	case "MUTABLE", "IMMUTABLE":
	default:
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'imageTagMutability': %q", r.ImageTagMutability)
	}
	switch r.EncryptionType {
	case "":
		r.EncryptionType = "AES256"
	case "AES256":
		if r.KMSKey != "" {
			return nil, errorf("InvalidParameterException", "Invalid parameter: kmsKey may only be given with encryptionType KMS")
		}
	case "KMS":
	default:
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'encryptionType': %q", r.EncryptionType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[r.Name]; ok {
		return nil, errorf("RepositoryAlreadyExistsException",
			"The repository with name '%s' already exists in the registry with id '%s'", r.Name, s.Account)
	}
	s.repos[r.Name] = r
	return map[string]any{"repository": s.repositoryJSON(r)}, nil
}

// createOnPush creates a repository as a creation template would.
func (s *Sim) createOnPush(name string) bool {
	if !s.cfg.createOnPush || validName(name) != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[name]; !ok {
		s.repos[name] = &Repository{Name: name, CreatedAt: time.Now(), ImageTagMutability: "MUTABLE",
			EncryptionType: "AES256", pushed: map[string]time.Time{}}
	}
	return true
}

type pageRequest struct {
	MaxResults *int   `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

// page cuts n items at the offset a nextToken of op/scope names; ECR's defaults and limits
// are def and max.
func page(p pageRequest, op, scope string, n, def, max int) (from, to int, next string, err error) {
	size := def
	if p.MaxResults != nil {
		if *p.MaxResults < 1 || *p.MaxResults > max {
			return 0, 0, "", errorf("InvalidParameterException",
				"Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and %d'", max)
		}
		size = *p.MaxResults
	}
	if p.NextToken != "" {
		raw, _ := base64.RawURLEncoding.DecodeString(p.NextToken)
		prefix := op + "\x00" + scope + "\x00"
		off, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), prefix))
		if !strings.HasPrefix(string(raw), prefix) || convErr != nil || off < 0 || off > n {
			return 0, 0, "", errorf("InvalidParameterException", "Invalid parameter at 'nextToken': the token is not valid")
		}
		from = off
	}
	to = min(from+size, n)
	if to < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(op + "\x00" + scope + "\x00" + strconv.Itoa(to)))
	}
	return from, to, next, nil
}

func (s *Sim) describeRepositories(_ *http.Request, body []byte) (any, error) {
	var in struct {
		pageRequest
		RegistryID      string   `json:"registryId"`
		RepositoryNames []string `json:"repositoryNames"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	if err := s.checkRegistry(in.RegistryID); err != nil {
		return nil, err
	}
	var repos []*Repository
	if len(in.RepositoryNames) > 0 {
		if in.MaxResults != nil || in.NextToken != "" {
			return nil, errorf("InvalidParameterException", "maxResults and nextToken cannot be used with repositoryNames")
		}
		for _, n := range in.RepositoryNames {
			r, err := s.repository("", n)
			if err != nil {
				return nil, err
			}
			repos = append(repos, r)
		}
	} else {
		s.mu.Lock()
		for _, r := range s.repos {
			repos = append(repos, r)
		}
		s.mu.Unlock()
		sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
	}
	from, to, next, err := page(in.pageRequest, "DescribeRepositories", "", len(repos), 100, 1000)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	s.mu.Lock()
	for _, r := range repos[from:to] {
		out = append(out, s.repositoryJSON(r))
	}
	s.mu.Unlock()
	res := map[string]any{"repositories": out}
	if next != "" {
		res["nextToken"] = next
	}
	return res, nil
}

func (s *Sim) putLifecyclePolicy(_ *http.Request, body []byte) (any, error) {
	var in struct {
		RegistryID          string `json:"registryId"`
		RepositoryName      string `json:"repositoryName"`
		LifecyclePolicyText string `json:"lifecyclePolicyText"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	r, err := s.repository(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var policy struct {
		Rules []json.RawMessage `json:"rules"`
	}
	if json.Unmarshal([]byte(in.LifecyclePolicyText), &policy) != nil || len(policy.Rules) == 0 {
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure'")
	}
	s.mu.Lock()
	r.LifecyclePolicy = in.LifecyclePolicyText
	s.mu.Unlock()
	return map[string]any{"registryId": s.Account, "repositoryName": r.Name, "lifecyclePolicyText": in.LifecyclePolicyText}, nil
}

func (s *Sim) getLifecyclePolicy(_ *http.Request, body []byte) (any, error) {
	var in struct {
		RegistryID     string `json:"registryId"`
		RepositoryName string `json:"repositoryName"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errorf("SerializationException", "%v", err)
	}
	r, err := s.repository(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	text := r.LifecyclePolicy
	s.mu.Unlock()
	if text == "" {
		return nil, errorf("LifecyclePolicyNotFoundException",
			"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.Name, s.Account)
	}
	return map[string]any{"registryId": s.Account, "repositoryName": r.Name, "lifecyclePolicyText": text}, nil
}
