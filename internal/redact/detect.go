package redact

import "strings"

// Kinds of credential shapes, as markers show them.
const (
	KindAWSKeyID       = "aws-access-key-id"
	KindAWSSecretKey   = "aws-secret-access-key"
	KindAWSSession     = "aws-session-token"
	KindGitHubToken    = "github-token"
	KindSlackToken     = "slack-token"
	KindSlackWebhook   = "slack-webhook"
	KindPrivateKey     = "private-key"
	KindJWT            = "jwt"
	KindURLCredentials = "url-credentials"
	KindBearer         = "bearer-token"
	KindAuthorization  = "authorization"
)

// detectors find credential shapes. Each looks for fixed strings first (fast on large texts) and checks the
// shape around each hit; the patterns are written here because the detector libraries looked at give no
// positions to replace in place, miss shapes needed here or are far too slow for every log line.
var detectors = []func(*scan){
	awsKeyIDs, keyedValues, awsSessionPrefixes, githubTokens, slackTokens, slackWebhooks,
	privateKeys, jwts, urlCredentials, bearerTokens, authorizations,
}

// awsKeyIDPrefixes start the access key ids of the IAM identifier types (AKIA long-term, ASIA temporary).
var awsKeyIDPrefixes = []string{"AKIA", "ASIA", "AROA", "AIDA", "AGPA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA", "A3T"}

// awsKeyIDs finds 20-character access key ids, and secret access keys near them (a credentials file or
// CSV, an `aws configure list`): a run of exactly 40 base64 characters of mixed case within 128 bytes.
func awsKeyIDs(s *scan) {
	t := s.text
	s.each("A", func(i int) int {
		if i+20 > len(t) || s.in(i-1, alnum) || s.inExact(i) {
			return i + 1
		}
		ok := false
		for _, p := range awsKeyIDPrefixes {
			if strings.HasPrefix(t[i:], p) {
				ok = true
				break
			}
		}
		if !ok || s.runEndMax(i, upperNum, 21) != i+20 || s.in(i+20, alnum) {
			return i + 1
		}
		s.addWhole(i, i+20, KindAWSKeyID)
		s.keyID = append(s.keyID, span{start: i, end: i + 20})
		return i + 20
	})
	for _, k := range s.keyID {
		lo, hi := max(0, k.start-128), min(len(t), k.end+128)
		for i := lo; i < hi; i++ {
			if !s.in(i, b64) {
				continue
			}
			start, end := s.runStart(i, b64, 41), s.runEndMax(i, b64, 41)
			i = end
			if end-start == 40 && !s.in(start-1, b64) && !s.in(end, b64pad) && mixedCase(t[start:end]) {
				s.addWhole(start, end, KindAWSSecretKey)
			}
		}
	}
}

func mixedCase(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return 'a' <= r && r <= 'z' }) &&
		strings.ContainsFunc(v, func(r rune) bool { return 'A' <= r && r <= 'Z' })
}

// keyedValues finds values after the keys that name AWS secrets, whatever the syntax around them:
// AWS_SECRET_ACCESS_KEY=v, aws_secret_access_key = v, "SecretAccessKey": "v", secret_key = "v",
// AWS_SESSION_TOKEN=v, "SessionToken": "v", and the same in escaped JSON; and the credential after the word
// "token" (git's and gh's messages). Keys are found by their rare letter k.
func keyedValues(s *scan) {
	t := s.text
	for _, lit := range []string{"key", "Key", "KEY"} {
		s.each(lit, func(i int) int {
			for _, k := range []string{"secret_access_key", "secret_key"} {
				if _, ok := keyBefore(t, i+3, k); ok {
					return s.value(i+3, KindAWSSecretKey)
				}
			}
			return i + 1
		})
	}
	for _, lit := range []string{"ken", "KEN"} {
		s.each(lit, func(i int) int {
			end := i + 3
			for _, k := range []string{"session_token", "security_token"} {
				if _, ok := keyBefore(t, end, k); ok {
					return s.value(end, KindAWSSession)
				}
			}
			if w, ok := keyBefore(t, end, "token"); ok && !s.in(w-1, alnum) {
				return s.word(end, 20)
			}
			return i + 1
		})
	}
}

// keyBefore matches key ending just before i, ignoring case, where each '_' in key may also be '-' or
// nothing. It returns where the key starts.
func keyBefore(t string, i int, key string) (int, bool) {
	for k := len(key) - 1; k >= 0; k-- {
		if key[k] == '_' {
			if i > 0 && (t[i-1] == '_' || t[i-1] == '-') {
				i--
			}
			continue
		}
		if i == 0 || lower(t[i-1]) != key[k] {
			return 0, false
		}
		i--
	}
	return i, true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// value redacts the value after a key: quotes, an assignment (= : => :=), quotes, then at least 16 base64
// characters. It returns where a value it found ends, else 0.
func (s *scan) value(i int, kind string) int {
	t := s.text
	skip := func(c *class, n int) {
		for ; n > 0 && i < len(t) && c[t[i]]; n-- {
			i++
		}
	}
	skip(quote, 2)
	skip(blank, 8)
	switch {
	case strings.HasPrefix(t[i:], "=>") || strings.HasPrefix(t[i:], ":="):
		i += 2
	case i < len(t) && (t[i] == '=' || t[i] == ':'):
		i++
	default:
		return 0
	}
	skip(blank, 8)
	skip(quote, 2)
	end := s.runEnd(i, b64pad)
	if end-i < 16 {
		return 0
	}
	s.add(i, end, kind)
	return end
}

// awsSessionPrefixes finds STS session tokens by the way they start.
func awsSessionPrefixes(s *scan) {
	for _, p := range []string{"IQoJb3JpZ2lu", "FwoGZXIvYXdz"} {
		s.each(p, func(i int) int {
			if s.in(i-1, b64) {
				return i + 1
			}
			end := s.runEnd(i, b64pad)
			if end-i >= 100 {
				s.add(i, end, KindAWSSession)
			}
			return end
		})
	}
}

// githubTokens finds GitHub's prefixed tokens: ghp_ (classic personal), gho_ (OAuth), ghu_ (user-to-server),
// ghs_ (installation), ghr_ (refresh) and github_pat_ (fine-grained personal).
func githubTokens(s *scan) {
	s.each("gh", func(i int) int {
		t := s.text
		if i+4 > len(t) || t[i+3] != '_' || !strings.ContainsRune("pousr", rune(t[i+2])) || s.in(i-1, word) {
			return i + 1
		}
		end := s.runEnd(i+4, word)
		if end-(i+4) >= 16 {
			s.add(i, end, KindGitHubToken)
		}
		return end
	})
	s.each("github_pat_", func(i int) int {
		if s.in(i-1, word) {
			return i + 1
		}
		j := i + len("github_pat_")
		end := s.runEnd(j, word)
		switch {
		case end-j < 20:
		case end-j >= 82 && s.text[j+22] == '_':
			// The whole format: 22 characters, '_', 59 characters. What follows is no part of it.
			s.addWhole(i, j+82, KindGitHubToken)
			return j + 82
		default:
			s.add(i, end, KindGitHubToken)
		}
		return end
	})
}

// slackTokens finds xox?- tokens (bot, user, app, refresh, configuration; xoxe.xoxb- too) and xapp- tokens.
func slackTokens(s *scan) {
	t := s.text
	s.each("xox", func(i int) int {
		j := i + 4
		if j >= len(t) || !alnum[t[i+3]] || s.in(i-1, alnum) {
			return i + 1
		}
		if strings.HasPrefix(t[j:], ".xox") && j+5 < len(t) && alnum[t[j+4]] {
			j += 5
		}
		if j >= len(t) || t[j] != '-' {
			return i + 1
		}
		end := s.runEnd(j+1, slackChar)
		if end-(j+1) >= 10 {
			s.add(i, end, KindSlackToken)
		}
		return end
	})
	s.each("xapp-", func(i int) int {
		if s.in(i-1, alnum) {
			return i + 1
		}
		end := s.runEnd(i+5, slackChar)
		if end-(i+5) >= 10 {
			s.add(i, end, KindSlackToken)
		}
		return end
	})
}

// slackWebhooks finds incoming webhook and workflow URLs, whose path is the credential.
func slackWebhooks(s *scan) {
	s.each("hooks.slack.com/", func(i int) int {
		j := i + len("hooks.slack.com/")
		end := s.runEnd(j, hookChar)
		if end-j >= 10 {
			start := i
			for _, sc := range []string{"https://", "http://"} {
				if strings.HasSuffix(s.text[:i], sc) {
					start = i - len(sc)
				}
			}
			s.add(start, end, KindSlackWebhook)
		}
		return end
	})
}

// privateKeys finds PEM private key blocks, BEGIN line to END line; without an END line, to the end of the
// text.
func privateKeys(s *scan) {
	t := s.text
	s.each("-----BEGIN ", func(i int) int {
		if !pemLine(t, i+len("-----BEGIN ")) {
			return i + 1
		}
		end := pemEnd(t, i+1)
		if end < 0 {
			s.spans = append(s.spans, span{start: i, end: len(t), kind: KindPrivateKey, open: true})
			return len(t)
		}
		s.add(i, end, KindPrivateKey)
		return end
	})
}

// pemEnd returns the end of the first private key END line at or after i, or -1.
func pemEnd(t string, i int) int {
	for {
		k := strings.Index(t[i:], "-----END ")
		if k < 0 {
			return -1
		}
		i += k + len("-----END ")
		if pemLine(t, i) {
			return i + strings.Index(t[i:], "-----") + 5
		}
	}
}

// pemLine matches the rest of a BEGIN or END line: words, "PRIVATE KEY", maybe " BLOCK", five dashes.
func pemLine(t string, i int) bool {
	end := min(len(t), i+64)
	k := strings.Index(t[i:end], "PRIVATE KEY")
	if k < 0 || strings.TrimLeft(t[i:i+k], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") != "" {
		return false
	}
	rest := strings.TrimPrefix(t[i+k+len("PRIVATE KEY"):], " BLOCK")
	return strings.HasPrefix(rest, "-----")
}

// jwts finds JSON web tokens: a header and a payload (base64url JSON, so starting "eyJ"), a signature, and
// the further parts of an encrypted token.
func jwts(s *scan) {
	s.each("yJ", func(i int) int {
		if i--; i < 0 || s.text[i] != 'e' || s.in(i-1, b64url) {
			return i + 2
		}
		end := s.runEnd(i, b64url)
		if end-i < 10 || !s.in(end, dot) {
			return end
		}
		p := s.runEnd(end+1, b64url)
		if p-(end+1) < 8 || !s.in(p, dot) {
			return end
		}
		end = s.runEnd(p+1, b64url)
		for n := 0; n < 2 && s.in(end, dot) && s.in(end+1, b64url); n++ {
			end = s.runEnd(end+1, b64url)
		}
		s.add(i, end, KindJWT)
		return end
	})
}

var dot = newClass(".")

// urlCredentials finds the userinfo of URLs (scheme://user:password@host): the scheme and host stay. A bare
// "git@" (ssh's user) is no credential.
func urlCredentials(s *scan) {
	t := s.text
	s.each("://", func(i int) int {
		if st := s.runStart(i, scheme, 32); st == i || !letter[t[st]] {
			return i + 1
		}
		from := i + 3
		end := s.runEnd(from, authority)
		at := strings.LastIndexByte(t[from:end], '@')
		if at > 0 && t[from:from+at] != "git" {
			s.add(from, from+at, KindURLCredentials)
		}
		return i + 1 // the run ends at a '/', so the next "://" can be in its last byte
	})
}

// bearerTokens finds the credential after "Bearer" (Authorization headers, curl's and SDKs' debug output).
func bearerTokens(s *scan) {
	for _, lit := range []string{"bearer", "Bearer", "BEARER"} {
		s.each(lit, func(i int) int {
			if s.in(i-1, alnum) {
				return i + 1
			}
			return s.word(i+len(lit), 20)
		})
	}
}

// word redacts, as a bearer token, a run of at least n token characters after blanks at i. It returns where
// the run ends, or 0.
func (s *scan) word(i, n int) int {
	j := s.runEnd(i, blank)
	end := s.runEnd(j, tokenChar)
	if j == i || end-j < n {
		return 0
	}
	s.add(j, end, KindBearer)
	return end
}

// authorizations finds the credential of an Authorization header (or key) whatever its scheme: the scheme
// word stays.
func authorizations(s *scan) {
	t := s.text
	for _, l := range []string{"zation", "ZATION"} { // by its rarest letter
		s.each(l, func(i int) int {
			if _, ok := keyBefore(t, i+len(l), "authorization"); !ok {
				return i + 1
			}
			j := i + len(l)
			for n := 0; n < 2 && j < len(t) && quote[t[j]]; n++ {
				j++
			}
			j = s.runEnd(j, blank)
			if j >= len(t) || t[j] != ':' && t[j] != '=' {
				return i + 1
			}
			j = s.runEnd(j+1, blank)
			for n := 0; n < 2 && j < len(t) && quote[t[j]]; n++ {
				j++
			}
			if w := s.runEnd(j, slackChar); w > j && s.in(w, blank) {
				j = s.runEnd(w, blank) // the scheme: Basic, Bearer, token ...
			}
			end := s.runEnd(j, tokenChar)
			if end-j < 8 {
				return i + 1
			}
			s.add(j, end, KindAuthorization)
			return end
		})
	}
}
