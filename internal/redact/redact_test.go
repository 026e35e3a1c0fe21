package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Fake credentials of each kind; none is real.
const (
	keyID     = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	session   = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDt7Sj0b1h3mBq9hG0rOQfWkFhlD8KEXAMPLE" +
		"AiB4t0n3V5lX9nGvZ8WQvSx0aPb1m7cD2pEXAMPLEKrwIIov//////////ARAAGgw1NTU1NTU1NTU1NTUiDEXAMPLE"
	ghp        = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	pat        = "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	xoxb       = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	hook       = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	jwt        = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	pemBlock   = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----"
	configured = "hunter2-s3cret-value"
)

func TestPatternsAreLongEnough(t *testing.T) {
	if len(pat) != 93 || len(ghp) != 40 || len(keyID) != 20 || len(secretKey) != 40 {
		t.Fatalf("fixture lengths: pat %d ghp %d key id %d secret %d", len(pat), len(ghp), len(keyID), len(secretKey))
	}
}

func m(kind string) string { return marker(kind) }

type redactCase struct {
	name, in, want string
	stringOnly     bool // the Writer sees two lines at a time; the case needs more
}

// redactCases are the specification of what is redacted and how it shows, shared by String and Writer.
var redactCases = []redactCase{
	// Configured values.
	{name: "configured value", in: "pass=" + configured + ";", want: "pass=" + m("secret") + ";"},
	{name: "configured value twice", in: configured + " " + configured, want: m("secret") + " " + m("secret")},
	{name: "configured value url-encoded", in: "u=" + url.QueryEscape("p@ss word/x?y"), want: "u=" + m("url-pass")},
	{name: "short values are not secrets", in: "tok=abc", want: "tok=abc"},

	// AWS.
	{name: "aws access key id", in: "id " + keyID + " ok", want: "id " + m(KindAWSKeyID) + " ok"},
	{name: "aws temporary key id", in: `"AccessKeyId": "ASIAY34FZKBOKMUTVV7A"`, want: `"AccessKeyId": "` + m(KindAWSKeyID) + `"`},
	{name: "aws key id with more characters is no key id", in: keyID + "X " + "x" + keyID, want: keyID + "X " + "x" + keyID},
	{name: "aws secret next to its key id", in: keyID + "," + secretKey + "\n", want: m(KindAWSKeyID) + "," + m(KindAWSSecretKey) + "\n"},
	{name: "aws secret on the line after its key id", in: "id: " + keyID + "\nkey: " + secretKey, want: "id: " + m(KindAWSKeyID) + "\nkey: " + m(KindAWSSecretKey)},
	{name: "git hash next to a key id stays", in: keyID + " 0123456789abcdef0123456789abcdef01234567", want: m(KindAWSKeyID) + " 0123456789abcdef0123456789abcdef01234567"},
	{name: "aws secret in env form", in: "AWS_SECRET_ACCESS_KEY=" + secretKey, want: "AWS_SECRET_ACCESS_KEY=" + m(KindAWSSecretKey)},
	{name: "aws secret in ini form", in: "aws_secret_access_key = " + secretKey, want: "aws_secret_access_key = " + m(KindAWSSecretKey)},
	{name: "aws secret in json", in: `{"SecretAccessKey": "` + secretKey + `"}`, want: `{"SecretAccessKey": "` + m(KindAWSSecretKey) + `"}`},
	{name: "aws secret in escaped json", in: `"{\"SecretAccessKey\":\"` + secretKey + `\"}"`, want: `"{\"SecretAccessKey\":\"` + m(KindAWSSecretKey) + `\"}"`},
	{name: "aws secret in hcl", in: `  secret_key = "` + secretKey + `"`, want: `  secret_key = "` + m(KindAWSSecretKey) + `"`},
	{name: "aws secret in yaml", in: "secret-access-key: " + secretKey, want: "secret-access-key: " + m(KindAWSSecretKey)},
	{name: "sensitive value stays", in: "  + secret_key = (sensitive value)", want: "  + secret_key = (sensitive value)"},
	{name: "aws session token in env form", in: "AWS_SESSION_TOKEN=" + session, want: "AWS_SESSION_TOKEN=" + m(KindAWSSession)},
	{name: "aws session token in json", in: `"SessionToken": "` + session + `",`, want: `"SessionToken": "` + m(KindAWSSession) + `",`},
	{name: "aws session token alone", in: "token " + session, want: "token " + m(KindAWSSession)},

	// GitHub.
	{name: "github classic token", in: "x " + ghp + " y", want: "x " + m(KindGitHubToken) + " y"},
	{name: "github oauth token", in: "gho_16C7e42F292c6912E7710c838347Ae178B4a", want: m(KindGitHubToken)},
	{name: "github user-to-server token", in: "ghu_16C7e42F292c6912E7710c838347Ae178B4a", want: m(KindGitHubToken)},
	{name: "github installation token", in: "x-access-token ghs_16C7e42F292c6912E7710c838347Ae178B4a", want: "x-access-token " + m(KindGitHubToken)},
	{name: "github refresh token", in: "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498", want: m(KindGitHubToken)},
	{name: "github fine-grained token", in: "GH_TOKEN=" + pat, want: "GH_TOKEN=" + m(KindGitHubToken)},
	{name: "github word is no token", in: "ghp_short and ghs_", want: "ghp_short and ghs_"},

	// Slack.
	{name: "slack bot token", in: "token: " + xoxb, want: "token: " + m(KindSlackToken)},
	{name: "slack user token", in: "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef", want: m(KindSlackToken)},
	{name: "slack legacy workspace token", in: "xoxa-2-123456789012-123456789012", want: m(KindSlackToken)},
	{name: "slack refresh token", in: "xoxr-123456789012-abcdefABCDEF", want: m(KindSlackToken)},
	{name: "slack configuration token", in: "(xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkw)", want: "(" + m(KindSlackToken) + ")"},
	{name: "slack app token", in: "xapp-1-A0123456789-1234567890123-abcdef0123456789", want: m(KindSlackToken)},
	{name: "slack webhook", in: "post to " + hook + " now", want: "post to " + m(KindSlackWebhook) + " now"},

	// Private keys.
	{name: "private key block", in: "key:\n" + pemBlock + "\ndone", want: "key:\n" + m(KindPrivateKey) + "\n" + m(KindPrivateKey) + "\n" + m(KindPrivateKey) + "\n" + m(KindPrivateKey) + "\ndone"},
	{name: "indented private key keeps indentation", in: "  k = <<EOT\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n    -----END OPENSSH PRIVATE KEY-----\n  EOT",
		want: "  k = <<EOT\n    " + m(KindPrivateKey) + "\n    " + m(KindPrivateKey) + "\n    " + m(KindPrivateKey) + "\n  EOT"},
	{name: "private key without end", in: "a\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\nrest of the log", want: "a\n" + m(KindPrivateKey) + "\n" + m(KindPrivateKey) + "\n\n" + m(KindPrivateKey)},
	{name: "private key in one json line", in: `{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n"}`, want: `{"key":"` + m(KindPrivateKey) + `\n"}`},
	{name: "pgp private key block", in: "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----", want: m(KindPrivateKey) + "\n" + m(KindPrivateKey) + "\n" + m(KindPrivateKey)},
	{name: "certificate stays", in: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", want: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},

	// JWT, URLs, headers.
	{name: "jwt", in: "id_token=" + jwt + "&x=1", want: "id_token=" + m(KindJWT) + "&x=1"},
	{name: "url password", in: "git::https://oauth2:glpat-Zx9yW8vU7t@gitlab.example.com/net.git?ref=v1", want: "git::https://" + m(KindURLCredentials) + "@gitlab.example.com/net.git?ref=v1"},
	{name: "url token as user", in: "fetch https://opaque-t0ken-value@github.com/o/r.git", want: "fetch https://" + m(KindURLCredentials) + "@github.com/o/r.git"},
	{name: "ssh git user stays", in: "git::ssh://git@github.com/o/r.git", want: "git::ssh://git@github.com/o/r.git"},
	{name: "email and path @ stay", in: "author: dev@example.com see https://example.com/a@b", want: "author: dev@example.com see https://example.com/a@b"},
	{name: "bearer header", in: "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", want: "Authorization: Bearer " + m(KindAuthorization)},
	{name: "basic header", in: "> Authorization: Basic dXNlcjpwYXNzd29yZA==", want: "> Authorization: Basic " + m(KindAuthorization)},
	{name: "token after the word token", in: "using token 0123456789abcdefghijABCDEFGHIJ", want: "using token " + m(KindBearer)},

	// Split across lines.
	{name: "fine-grained token wrapped", in: "GH_TOKEN=" + pat[:50] + "\n" + pat[50:] + "\nnext", want: "GH_TOKEN=" + m(KindGitHubToken) + "\n" + m(KindGitHubToken) + "\nnext"},
	{name: "fine-grained token wrapped with indentation", in: "  token = " + pat[:60] + "\n          " + pat[60:] + " end", want: "  token = " + m(KindGitHubToken) + "\n          " + m(KindGitHubToken) + " end"},
	{name: "fine-grained token wrapped over three lines", in: pat[:40] + "\n" + pat[40:80] + "\n" + pat[80:] + "\n}", want: m(KindGitHubToken) + "\n" + m(KindGitHubToken) + "\n" + m(KindGitHubToken) + "\n}"},
	{name: "token at a line's end takes the next line's first word", in: "t=" + ghp + "\nnext line", want: "t=" + m(KindGitHubToken) + "\n" + m(KindGitHubToken) + " line"},
	{name: "key id wrapped", in: "id=" + keyID[:9] + "\r\n" + keyID[9:] + ",", want: "id=" + m(KindAWSKeyID) + "\r\n" + m(KindAWSKeyID) + ","},
	{name: "jwt wrapped", in: jwt[:70] + "\n" + jwt[70:], want: m(KindJWT) + "\n" + m(KindJWT)},
	{name: "slack token wrapped", in: "x " + xoxb[:12] + "\n\t" + xoxb[12:] + " y", want: "x " + m(KindSlackToken) + "\n\t" + m(KindSlackToken) + " y"},
	{name: "configured value wrapped", in: "v=" + configured[:7] + "\n" + configured[7:] + ";", want: "v=" + m("secret") + "\n" + m("secret") + ";"},
	{name: "aws secret wrapped after its key", in: "AWS_SECRET_ACCESS_KEY=" + secretKey[:10] + "\n" + secretKey[10:], want: "AWS_SECRET_ACCESS_KEY=" + m(KindAWSSecretKey) + "\n" + m(KindAWSSecretKey)},
	{name: "url password wrapped", in: "https://u:pass-w0rd-xy\nz@host/p", want: "https://" + m(KindURLCredentials) + "\n" + m(KindURLCredentials) + "@host/p"},
	{name: "separate lines stay apart", in: "plan\n  done\nok", want: "plan\n  done\nok"},
}

func newTestRedactor() *Redactor {
	return New(Secret{Value: configured}, Secret{Kind: "url pass", Value: "p@ss word/x?y"})
}

func TestString(t *testing.T) {
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := newTestRedactor().String(tc.in); got != tc.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStringIsIdempotent(t *testing.T) {
	for _, tc := range redactCases {
		r := newTestRedactor()
		once := r.String(tc.in)
		if twice := r.String(once); twice != once {
			t.Errorf("%s: redacting again changed %q to %q", tc.name, once, twice)
		}
	}
}

// Every case once through the Writer, line by line as stage logs come, and in one write.
func TestWriterMatchesString(t *testing.T) {
	for _, tc := range redactCases {
		if tc.stringOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			for _, chunks := range [][]string{strings.SplitAfter(tc.in, "\n"), {tc.in}} {
				var out strings.Builder
				w := newTestRedactor().Writer(&out)
				for _, c := range chunks {
					if _, err := w.Write([]byte(c)); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if out.String() != tc.want {
					t.Errorf("Writer(%d chunks)\n got %q\nwant %q", len(chunks), out.String(), tc.want)
				}
			}
		})
	}
}

// A configured value in a base64 blob (a file or the environment, encoded by hostile plan code) is caught at
// each of the three offsets it can have, also when the blob is wrapped at 76 columns.
func TestConfiguredValueInBase64(t *testing.T) {
	const secret = "s3cr3t-Tok3n-v4lue!"
	for off := range 3 {
		for _, wrap := range []bool{false, true} {
			t.Run(fmt.Sprintf("offset %d wrapped %t", off, wrap), func(t *testing.T) {
				blob := strings.Repeat("A", 30+off) + "\x00TOKEN=" + secret + "\x00HOME=/root\x00"
				enc := base64.StdEncoding.EncodeToString([]byte(blob))
				if wrap {
					var lines []string
					for len(enc) > 76 {
						lines, enc = append(lines, enc[:76]), enc[76:]
					}
					enc = strings.Join(append(lines, enc), "\n")
				}
				r := New(Secret{Value: secret})
				out := r.String("  + environ = \"" + enc + "\"")
				joined := strings.ReplaceAll(out, "\n", "")
				for _, f := range base64Forms(secret) {
					if strings.Contains(joined, f) {
						t.Fatalf("base64 form %q left in %q", f, out)
					}
				}
				if r.Counts()["secret-base64"] == 0 {
					t.Fatalf("no base64 redaction counted: %v in %q", r.Counts(), out)
				}
			})
		}
	}
}

// The forms of a value within base64 are what the encoder really produces at each offset.
func TestBase64Forms(t *testing.T) {
	const v = "hunter2-password"
	forms := base64Forms(v)
	for off := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("z", off+3) + v + "tail"))
		found := false
		for _, f := range forms {
			found = found || strings.Contains(enc, f)
		}
		if !found {
			t.Errorf("offset %d: no form of %v in %s", off, forms, enc)
		}
	}
}

func TestLongerSecretIsRedactedWhole(t *testing.T) {
	for _, secrets := range [][]string{{"abcd1234", "abcd1234XYZW"}, {"abcd1234XYZW", "abcd1234"}} {
		r := New(Secrets("secret", secrets...)...)
		if got := r.String("tok=abcd1234XYZW and abcd1234"); got != "tok="+m("secret")+" and "+m("secret") {
			t.Errorf("secrets %q: %q", secrets, got)
		}
	}
}

func TestMultiLineSecretIsRedactedLineByLine(t *testing.T) {
	r := New(Secret{Kind: "app-key", Value: "first-line-of-it\r\nsecond-line-of-it\n"})
	if got := r.String("a second-line-of-it b first-line-of-it"); got != "a "+m("app-key")+" b "+m("app-key") {
		t.Errorf("got %q", got)
	}
}

func TestCounts(t *testing.T) {
	r := New(Secret{Value: configured})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r.String(configured + " " + ghp + "\n" + pemBlock)
		})
	}
	wg.Wait()
	want := map[string]int{"secret": 8, KindGitHubToken: 8, KindPrivateKey: 8}
	if got := r.Counts(); fmt.Sprint(got) != fmt.Sprint(want) || r.Total() != 24 {
		t.Errorf("Counts() = %v, Total() = %d; want %v, 24", got, r.Total(), want)
	}
}

func TestWithDerivesARedactor(t *testing.T) {
	base := New(Secret{Value: configured})
	run := base.With(Secret{Kind: "aws-session", Value: "run-only-value-123"})
	if got := run.String(configured + " run-only-value-123"); got != m("secret")+" "+m("aws-session") {
		t.Errorf("derived: %q", got)
	}
	if got := base.String("run-only-value-123"); got != "run-only-value-123" {
		t.Errorf("base learned the derived secret: %q", got)
	}
	if base.Total() != 0 || run.Total() != 2 {
		t.Errorf("counts: base %v, run %v", base.Counts(), run.Counts())
	}
}

func TestNilRedactorRedactsShapes(t *testing.T) {
	var r *Redactor
	if got := r.String("t " + ghp); got != "t "+m(KindGitHubToken) {
		t.Errorf("got %q", got)
	}
	if r.Total() != 0 {
		t.Error("a nil redactor counted")
	}
}

func TestErrKeepsTheChain(t *testing.T) {
	r := New(Secret{Value: configured})
	err := r.Err(fmt.Errorf("open %s: %w", configured, fs.ErrNotExist))
	if !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), configured) {
		t.Errorf("Err = %v", err)
	}
	plain := errors.New("nothing to hide")
	if r.Err(plain) != plain || r.Err(nil) != nil {
		t.Error("Err wrapped an error with nothing to redact")
	}
}
