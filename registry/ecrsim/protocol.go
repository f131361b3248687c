package ecrsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	ecrTargetPrefix    = "AmazonEC2ContainerRegistry_V20150921."
	publicTargetPrefix = "SpencerFrontendService."
	jsonContentType    = "application/x-amz-json-1.1"
)

// apiError is an AWS JSON protocol error: HTTP 400 with {"__type", "message"}.
type apiError struct {
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

type handler func(r *http.Request, body []byte) (any, error)

func (s *Sim) ecrHandlers() map[string]handler {
	return map[string]handler{
		"CreateRepository":      s.createRepository,
		"DescribeRepositories":  s.describeRepositories,
		"ListImages":            s.listImages,
		"DescribeImages":        s.describeImages,
		"BatchGetImage":         s.batchGetImage,
		"BatchDeleteImage":      s.batchDeleteImage,
		"GetAuthorizationToken": s.getAuthorizationToken,
		"GetAccountSetting":     s.getAccountSetting,
		"PutAccountSetting":     s.putAccountSetting,
		"PutLifecyclePolicy":    s.putLifecyclePolicy,
		"GetLifecyclePolicy":    s.getLifecyclePolicy,
	}
}

// signed reports whether r carries an AWS SigV4 signature, as every AWS API demands.
func signed(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/")
}

func (s *Sim) serveJSON(w http.ResponseWriter, r *http.Request, target string) {
	var op string
	var h handler
	switch {
	case strings.HasPrefix(target, ecrTargetPrefix):
		op = strings.TrimPrefix(target, ecrTargetPrefix)
		h = s.ecrHandlers()[op]
	case strings.HasPrefix(target, publicTargetPrefix):
		op = "ecrpublic." + strings.TrimPrefix(target, publicTargetPrefix)
		if op == "ecrpublic.GetAuthorizationToken" {
			h = s.getPublicAuthorizationToken
		}
	default:
		op = target
	}
	s.count(op)
	body, err := io.ReadAll(r.Body)
	switch {
	case err != nil:
		err = errorf("SerializationException", "reading request: %v", err)
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != jsonContentType:
		err = errorf("SerializationException", "expected POST with Content-Type %s", jsonContentType)
	case !signed(r):
		err = errorf("MissingAuthenticationTokenException", "Missing Authentication Token")
	case h == nil:
		err = errorf("UnknownOperationException", "unknown operation %s", target)
	case !json.Valid(body):
		err = errorf("SerializationException", "request body is not JSON")
	}
	var out any
	if err == nil {
		out, err = h(r, body)
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-RequestId", requestID())
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = errorf("ServerException", "%v", err)
			w.WriteHeader(http.StatusInternalServerError)
		} else {
			w.WriteHeader(http.StatusBadRequest)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.code, "message": ae.message})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// serveQuery answers the awsquery protocol: STS GetCallerIdentity.
func (s *Sim) serveQuery(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	action := r.PostForm.Get("Action")
	s.count(action)
	w.Header().Set("Content-Type", "text/xml")
	if !signed(r) || action != "GetCallerIdentity" {
		code, msg := "InvalidAction", "Could not find operation "+action
		if !signed(r) {
			code, msg = "MissingAuthenticationToken", "Request is missing Authentication Token"
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			code, xmlText(msg), requestID())
		return
	}
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::%[1]s:user/ecrsim</Arn>
    <UserId>AIDAECRSIMULATOR0000</UserId>
    <Account>%[1]s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>%[2]s</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`, s.Account, requestID())
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// issueToken makes a new data-plane token and returns it as ECR encodes it.
func (s *Sim) issueToken() (encoded string, expires time.Time) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	expires = time.Now().Add(s.cfg.tokenTTL)
	s.mu.Lock()
	s.tokens[tok] = expires
	s.mu.Unlock()
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + tok)), expires
}

func (s *Sim) getAuthorizationToken(_ *http.Request, _ []byte) (any, error) {
	tok, exp := s.issueToken()
	return map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": tok,
		"expiresAt":          epoch(exp),
		"proxyEndpoint":      "http://" + s.Host,
	}}}, nil
}

func (s *Sim) getPublicAuthorizationToken(_ *http.Request, _ []byte) (any, error) {
	tok, exp := s.issueToken()
	return map[string]any{"authorizationData": map[string]any{
		"authorizationToken": tok,
		"expiresAt":          epoch(exp),
	}}, nil
}

type accountSetting struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

func (s *Sim) getAccountSetting(_ *http.Request, body []byte) (any, error) {
	var in accountSetting
	_ = json.Unmarshal(body, &in)
	if in.Name != "BLOB_MOUNTING" {
		return nil, errorf("ValidationException", "account setting %q is not simulated", in.Name)
	}
	v := "DISABLED"
	if s.BlobMounting() {
		v = "ENABLED"
	}
	return accountSetting{Name: in.Name, Value: v}, nil
}

func (s *Sim) putAccountSetting(_ *http.Request, body []byte) (any, error) {
	var in accountSetting
	_ = json.Unmarshal(body, &in)
	if in.Name != "BLOB_MOUNTING" {
		return nil, errorf("ValidationException", "account setting %q is not simulated", in.Name)
	}
	if in.Value != "ENABLED" && in.Value != "DISABLED" {
		return nil, errorf("ValidationException", "BLOB_MOUNTING must be ENABLED or DISABLED, not %q", in.Value)
	}
	s.mu.Lock()
	s.blobMounting = in.Value == "ENABLED"
	s.mu.Unlock()
	return in, nil
}
