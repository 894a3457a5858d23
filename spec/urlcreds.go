package spec

import (
	"net/url"
	"strings"
)

// Issue 21: a URL in the spec never carries credentials. kubernetes.watch.git with
// https://deploy:TOKEN@host/… validated and was rendered in plain text into the watch
// Deployment's arguments (readable by everyone who can read the Deployment, and in git with the
// spec). The rendered Deployment reads git credentials from a Secret instead (docs/watch.md).

// urlCredentials says what credential rawURL carries, or "" when none: any user information of an
// http(s) URL (a token is often the user name: https://<token>@host/…), and a password in any
// URL. A bare user name of another scheme (ssh://git@host/…, git@host:path) is no secret.
func urlCredentials(rawURL string) string {
	if !strings.Contains(rawURL, "@") {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return ""
	}
	if _, ok := u.User.Password(); ok {
		return "a password"
	}
	if scheme := strings.ToLower(u.Scheme); scheme == "http" || scheme == "https" {
		return "a user name (a token, for most git hosts)"
	}
	return ""
}

// noURLCredentials refuses a URL at path that carries credentials; where says what to use instead.
func (v *validator) noURLCredentials(path, rawURL, instead string) {
	if what := urlCredentials(rawURL); what != "" {
		v.errorf(path, "%s carries %s in its URL; credentials never go in avatar.yaml (it is committed and rendered in plain text): %s", path, what, instead)
	}
}
