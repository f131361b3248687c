package config

import (
	"strings"
	"testing"
)

// A repository URL with user:password@ is read as the URL without them plus the
// repository's credentials; explicit fields win; a catalog written back holds no password.
func TestRepositoryURLCredentialsAreTakenOut(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "values.yaml", `addons:
  - chart: loki
    repository: oci://robot:URLpw-S3CRET@registry.example.com:5000/charts
    version: 6.6.0
  - chart: app
    repository: https://alice:URLpw2-S3CRET@charts.example.com/stable
    version: 1.0.0
  - chart: other
    repository: https://alice:URLpw3-S3CRET@charts.example.com/other
    username: bob
    password_env: OTHER_PW
    version: 1.0.0
`)
	addons, err := LoadValues(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ repo, user, pass, env string }{
		{"oci://registry.example.com:5000/charts", "robot", "URLpw-S3CRET", ""},
		{"https://charts.example.com/stable", "alice", "URLpw2-S3CRET", ""},
		{"https://charts.example.com/other", "bob", "", "OTHER_PW"},
	}
	for i, w := range want {
		a := addons[i]
		if a.Repository != w.repo || a.Username != w.user || a.Password != w.pass || a.PasswordEnv != w.env {
			t.Errorf("addon %d: repository %q user %q password %q env %q; want %+v", i, a.Repository, a.Username, a.Password, a.PasswordEnv, w)
		}
	}
	cat, err := MarshalCatalog(addons)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cat), "S3CRET") {
		t.Errorf("catalog carries a password:\n%s", cat)
	}
	back, err := LoadCatalogs([]string{writeFile(t, dir, "catalog.yaml", string(cat))})
	if err != nil {
		t.Fatal(err)
	}
	if back[0].Repository != want[0].repo || back[0].Username != "robot" {
		t.Errorf("catalog round trip: %+v", back[0])
	}
}

// A bad repository URL is reported without the password it carries.
func TestRepositoryErrorsNeverShowURLPasswords(t *testing.T) {
	for _, repo := range []string{
		"ftp://u:BADpw-S3CRET@host/charts",  // wrong scheme
		"https://u:BADpw-S3CRET@host:bad/x", // unparsable port
		"https://u:BAD%zzpw-S3CRET@host/x",  // bad escape in the password
		"oci://u:BADpw-S3CRET@",             // no host
	} {
		msg := CheckRepository(repo)
		if msg == "" {
			t.Errorf("%s: accepted", repo)
		}
		if strings.Contains(msg, "S3CRET") {
			t.Errorf("%s: message shows the password: %s", repo, msg)
		}
	}
	if got := RedactURLs(`Get "https://u:p@h/x": 401; oci://a:b@reg/ns and https://h/ok@v1`); got != `Get "https://h/x": 401; oci://reg/ns and https://h/ok@v1` {
		t.Errorf("RedactURLs: %s", got)
	}
}
