package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"
)

// chunkSize is how much of a body of unknown length (chunked encoding) is
// reserved from the budget and read at a time.
const chunkSize = 64 << 10

// refusal is a reply that ends a delivery.
type refusal struct {
	code       int
	msg        string
	retryAfter string
	reason     string // a Reason constant, for Config.Observe
}

// signature parses X-Hub-Signature-256 ("sha256=" and 64 hex digits). Anything
// else is refused before a byte of the body is read. Only SHA-256 is accepted:
// SHA-1 HMACs are deprecated by GitHub.
func signature(header string) ([]byte, *refusal) {
	if header == "" {
		return nil, &refusal{code: http.StatusUnauthorized, msg: "missing " + signatureHeader, reason: ReasonMissingSignature}
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, &refusal{code: http.StatusUnauthorized, msg: "signature does not match", reason: ReasonBadSignature}
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, &refusal{code: http.StatusUnauthorized, msg: "signature does not match", reason: ReasonBadSignature}
	}
	return sig, nil
}

// readSigned reads the body under the unverified-bytes budget, computing its
// HMAC as the bytes arrive, and returns it only when it matches sig. The
// budget is given back when it returns: what it returns is GitHub's own.
//
// No request ever waits for budget while it holds some (a body of declared
// length reserves all of it at once; a chunked body waits only for its first
// chunk), so readers cannot deadlock each other; a slow body holds its bytes
// for at most BodyTimeout.
func (h *Handler) readSigned(w http.ResponseWriter, r *http.Request, sig []byte) ([]byte, *refusal) {
	mac := hmac.New(sha256.New, h.cfg.Secret)
	var held int64
	defer func() { h.budget.release(held) }()
	var (
		chunks [][]byte
		ref    *refusal
	)
	if r.ContentLength >= 0 {
		chunks, ref = h.readKnown(w, r, mac, &held)
	} else {
		chunks, ref = h.readChunked(w, r, mac, &held)
	}
	if ref != nil {
		return nil, ref
	}
	if !hmac.Equal(mac.Sum(nil), sig) {
		return nil, &refusal{code: http.StatusUnauthorized, msg: "signature does not match", reason: ReasonBadSignature}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	return bytes.Join(chunks, nil), nil
}

func budgetExhausted() *refusal {
	return &refusal{code: http.StatusServiceUnavailable, msg: "too many deliveries in flight; retry later", retryAfter: "5", reason: ReasonBusy}
}

// reserve takes n bytes of the budget for this request, waiting at most
// BudgetWait, and from then on gives the body BodyTimeout to arrive: GitHub
// gives up on a delivery not answered within 10 s, so a body still arriving
// after that is not GitHub's, and must not keep its bytes.
func (h *Handler) reserve(w http.ResponseWriter, r *http.Request, n int64, held *int64) *refusal {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.BudgetWait)
	defer cancel()
	if err := h.budget.acquire(ctx, n); err != nil {
		h.log.Warn("webhook body budget exhausted: delivery refused", "bytes", n, "budget", h.budget.total)
		return budgetExhausted()
	}
	*held += n
	// Not every ResponseWriter can (httptest's recorder cannot); the server's ReadTimeout still applies.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
	return nil
}

// readKnown reads a body of declared length, reserving all of it before the
// first byte.
func (h *Handler) readKnown(w http.ResponseWriter, r *http.Request, mac hash.Hash, held *int64) ([][]byte, *refusal) {
	n := r.ContentLength
	if n > h.cfg.MaxBody {
		return nil, tooLarge(h.cfg.MaxBody)
	}
	if ref := h.reserve(w, r, n, held); ref != nil {
		return nil, ref
	}
	body := make([]byte, n)
	for off := 0; off < len(body); {
		end := min(off+chunkSize, len(body))
		k, err := io.ReadFull(r.Body, body[off:end])
		mac.Write(body[off : off+k])
		off += k
		if err != nil {
			return nil, &refusal{code: http.StatusBadRequest, msg: "reading body failed", reason: ReasonReadFailed}
		}
	}
	return [][]byte{body}, nil
}

// readChunked reads a body of unknown length (chunked encoding; GitHub itself
// always declares the length) a chunk at a time, reserving each chunk before
// reading it. Only the first chunk may wait for budget: a chunk that does not
// fit at once ends the request, so that it gives back what it holds instead of
// waiting for others who may be waiting for it.
func (h *Handler) readChunked(w http.ResponseWriter, r *http.Request, mac hash.Hash, held *int64) ([][]byte, *refusal) {
	if ref := h.reserve(w, r, chunkSize, held); ref != nil {
		return nil, ref
	}
	var (
		chunks [][]byte
		size   int64
	)
	for {
		c := make([]byte, chunkSize)
		k, err := io.ReadFull(r.Body, c)
		c = c[:k]
		mac.Write(c)
		chunks = append(chunks, c)
		if size += int64(k); size > h.cfg.MaxBody {
			return nil, tooLarge(h.cfg.MaxBody)
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return chunks, nil
		case err != nil:
			return nil, &refusal{code: http.StatusBadRequest, msg: "reading body failed", reason: ReasonReadFailed}
		}
		if !h.budget.tryAcquire(chunkSize) {
			h.log.Warn("webhook body budget exhausted: delivery refused", "bytes", size, "budget", h.budget.total)
			return nil, budgetExhausted()
		}
		*held += chunkSize
	}
}

func tooLarge(limit int64) *refusal {
	return &refusal{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("payload over %d bytes", limit), reason: ReasonBodyTooLarge}
}
