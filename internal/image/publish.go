package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RemotePublisher pushes to a registry with go-containerregistry's remote package.
type RemotePublisher struct {
	// Auth is used for every request when set; otherwise Keychain; otherwise anonymous.
	Auth     authn.Authenticator
	Keychain authn.Keychain
	// Insecure talks plain HTTP (test registries on 127.0.0.1).
	Insecure bool
	// ImmutableTags says the repository rejects moving a tag (ECR IMMUTABLE): a tag that names another
	// digest fails with *TagConflictError before anything is pushed. Otherwise the tag is moved.
	ImmutableTags bool
	// Transport is the HTTP transport; default remote.DefaultTransport.
	Transport http.RoundTripper
}

var _ Publisher = (*RemotePublisher)(nil)

// Publish pushes r to repo:tag unless the tag already names r's digest. Blobs the registry has are not
// uploaded again (remote checks each with HEAD). Upload progress goes to log.
func (p *RemotePublisher) Publish(ctx context.Context, r Result, repo, tag string, log io.Writer) (Published, error) {
	if log == nil {
		log = io.Discard
	}
	// Blob uploads run concurrently and each reports to the log.
	log = &lockedWriter{w: log}
	var nopts []name.Option
	if p.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.NewTag(repo+":"+tag, nopts...)
	if err != nil {
		return Published{}, fmt.Errorf("publish %s:%s: %w", repo, tag, err)
	}
	out := Published{
		Ref:    ref.Context().Name() + "@" + r.Digest,
		Tag:    ref.Name(),
		Digest: r.Digest,
	}
	base := p.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	blobs := newBlobLog(base, log, r.Image)
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(blobs)}
	switch {
	case p.Auth != nil:
		opts = append(opts, remote.WithAuth(p.Auth))
	case p.Keychain != nil:
		opts = append(opts, remote.WithAuthFromKeychain(p.Keychain))
	}

	existing, err := remote.Head(ref, opts...)
	switch {
	case err == nil && existing.Digest.String() == r.Digest:
		fmt.Fprintf(log, "%s already at %s: nothing to push\n", out.Tag, r.Digest)
		return out, nil
	case err == nil && p.ImmutableTags:
		return Published{}, &TagConflictError{Tag: out.Tag, Existing: existing.Digest.String(), Want: r.Digest}
	case err != nil && !isNotFound(err):
		return Published{}, fmt.Errorf("publish %s: check tag: %w", out.Tag, err)
	}

	updates := make(chan v1.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		logProgress(log, updates)
	}()
	opts = append(opts, remote.WithProgress(updates))
	switch {
	case r.Index != nil:
		err = remote.WriteIndex(ref, r.Index, opts...)
	case r.Image != nil:
		err = remote.Write(ref, r.Image, opts...)
	default:
		err = errors.New("empty result")
	}
	<-done
	if err != nil {
		if isTagInvalid(err) {
			return Published{}, &TagConflictError{Tag: out.Tag, Existing: "another digest", Want: r.Digest}
		}
		return Published{}, fmt.Errorf("publish %s: %w", out.Tag, err)
	}
	fmt.Fprintf(log, "pushed %s\n", out.Ref)
	out.Pushed = true
	out.UploadedBytes, out.UploadedBlobs = blobs.bytes.Load(), int(blobs.blobs.Load())
	return out, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// isTagInvalid recognises ECR's answer to moving an immutable tag (a race with another pusher).
func isTagInvalid(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == "TAG_INVALID" && strings.Contains(d.Message, "immutable") {
			return true
		}
	}
	return false
}

// logProgress writes upload progress in quarter steps and drains updates until remote closes the channel.
func logProgress(log io.Writer, updates <-chan v1.Update) {
	next := int64(0)
	for u := range updates {
		if u.Error != nil || u.Total <= 0 {
			continue
		}
		pct := u.Complete * 100 / u.Total
		if pct >= next {
			fmt.Fprintf(log, "upload %d%% (%d/%d bytes)\n", pct, u.Complete, u.Total)
			next = pct/25*25 + 25
		}
	}
}

// blobLog reports, per blob, whether the registry already had it or it was uploaded; an image's
// layers are counted: "pushed layer 3/7 sha256:0123456789ab (12.4 MiB): uploaded". It also counts the
// blobs and bytes uploaded.
type blobLog struct {
	next  http.RoundTripper
	log   io.Writer
	bytes atomic.Int64
	blobs atomic.Int64

	mu     sync.Mutex
	layers map[string]int64 // the image's layers: digest -> size (nil for an index)
	seen   map[string]bool
}

func newBlobLog(next http.RoundTripper, log io.Writer, img v1.Image) *blobLog {
	b := &blobLog{next: next, log: log, seen: map[string]bool{}}
	if img == nil {
		return b
	}
	ls, err := img.Layers()
	if err != nil {
		return b // counted without a total: the push itself reports the error
	}
	b.layers = map[string]int64{}
	for _, l := range ls {
		d, derr := l.Digest()
		size, serr := l.Size()
		if derr == nil && serr == nil {
			b.layers[d.String()] = size
		}
	}
	return b
}

// report logs one blob's outcome; a layer of the image once, with its number and size.
func (b *blobLog) report(digest, verb, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	size, isLayer := b.layers[digest]
	if !isLayer {
		fmt.Fprintf(b.log, "layer %s: %s\n", short(digest), what)
		return
	}
	if b.seen[digest] {
		return
	}
	b.seen[digest] = true
	fmt.Fprintf(b.log, "%s layer %d/%d %s (%s): %s\n", verb, len(b.seen), len(b.layers), short(digest), mib(size), what)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (b *blobLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.Contains(req.URL.Path, "/blobs/uploads/") &&
		(req.Method == http.MethodPatch || req.Method == http.MethodPut) {
		req.Body = &countingBody{ReadCloser: req.Body, n: &b.bytes}
	}
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	p := req.URL.Path
	switch {
	case req.Method == http.MethodHead && strings.Contains(p, "/blobs/sha256:") && resp.StatusCode == http.StatusOK:
		b.report(p[strings.LastIndex(p, "/")+1:], "have", "already present")
	case req.Method == http.MethodPut && strings.Contains(p, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated:
		b.report(req.URL.Query().Get("digest"), "pushed", "uploaded")
		b.blobs.Add(1)
	case req.Method == http.MethodPost && strings.Contains(p, "/blobs/uploads/") && req.URL.Query().Get("mount") != "" &&
		resp.StatusCode == http.StatusCreated:
		b.report(req.URL.Query().Get("mount"), "pushed", "mounted from "+req.URL.Query().Get("from"))
	}
	return resp, nil
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// countingBody counts the bytes read from a request body (what the transport sends).
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
