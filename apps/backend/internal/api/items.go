package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
)

// Page sizes of GET /api/v1/items.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	maxCursorLen = 256
)

type itemHandlers struct {
	store Store
	log   *slog.Logger
}

func (h *itemHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultLimit
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit))
			return
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > maxCursorLen {
		writeError(w, http.StatusBadRequest, "invalid cursor")
		return
	}
	page, err := h.store.List(r.Context(), items.ListOptions{Limit: limit, Cursor: cursor})
	if err != nil {
		h.storeError(w, r, "list items", err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *itemHandlers) create(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readInput(w, r)
	if !ok {
		return
	}
	it, err := h.store.Create(r.Context(), in)
	if err != nil {
		h.storeError(w, r, "create item", err)
		return
	}
	w.Header().Set("Location", "/api/v1/items/"+url.PathEscape(it.ID))
	writeJSON(w, http.StatusCreated, it)
}

func (h *itemHandlers) get(w http.ResponseWriter, r *http.Request) {
	it, err := h.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, "get item", err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (h *itemHandlers) update(w http.ResponseWriter, r *http.Request) {
	in, ok := h.readInput(w, r)
	if !ok {
		return
	}
	it, err := h.store.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		h.storeError(w, r, "update item", err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (h *itemHandlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.store.Delete(r.Context(), r.PathValue("id")); err != nil {
		h.storeError(w, r, "delete item", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readInput decodes, normalizes and validates an item body, answering the
// client itself when it cannot.
func (h *itemHandlers) readInput(w http.ResponseWriter, r *http.Request) (items.Input, bool) {
	var in items.Input
	if err := decodeJSON(w, r, &in); err != nil {
		var reqErr *requestError
		if errors.As(err, &reqErr) {
			writeError(w, reqErr.status, reqErr.msg)
		} else {
			writeError(w, http.StatusBadRequest, "invalid request body")
		}
		return items.Input{}, false
	}
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		var verr *items.ValidationError
		if errors.As(err, &verr) {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: verr.Error(), Fields: verr.Fields})
		} else {
			writeError(w, http.StatusBadRequest, err.Error())
		}
		return items.Input{}, false
	}
	return in, true
}

// storeError maps store errors to statuses; unexpected ones are logged with
// what was being done and answered without detail.
func (h *itemHandlers) storeError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	switch {
	case errors.Is(err, items.ErrNotFound):
		writeError(w, http.StatusNotFound, "item not found")
	case errors.Is(err, items.ErrInvalidCursor):
		writeError(w, http.StatusBadRequest, "invalid cursor")
	case errors.Is(err, items.ErrStoreFull):
		writeError(w, http.StatusInsufficientStorage, "item store is full")
	default:
		h.log.ErrorContext(r.Context(), doing, "err", err, "path", r.URL.Path)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
