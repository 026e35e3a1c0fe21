package fakeslack

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits Slack enforces on chat.postMessage, chat.update and webhooks.
const (
	maxBlocks        = 50
	maxBlockID       = 255
	maxSectionText   = 3000
	maxHeaderText    = 150
	maxContextElems  = 10
	maxActionsElems  = 25
	maxActionID      = 255
	maxButtonValue   = 2000
	maxButtonText    = 75
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
)

// checkBlocks refuses what Slack refuses with invalid_blocks: more than 50 blocks, a repeated or over-long
// block_id, texts over their limits, and buttons with an over-long or repeated action_id or value.
func checkBlocks(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	if len(blocks) > maxBlocks {
		return fmt.Errorf("%d blocks, more than %d", len(blocks), maxBlocks)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		if id, ok := b["block_id"].(string); ok {
			if id == "" || utf8.RuneCountInString(id) > maxBlockID || ids[id] {
				return fmt.Errorf("block %d: block_id %q empty, too long or repeated", i, id)
			}
			ids[id] = true
		}
		var err error
		switch b["type"] {
		case "header":
			err = checkText(b["text"], maxHeaderText)
		case "section":
			err = checkText(b["text"], maxSectionText)
		case "context":
			elems, _ := b["elements"].([]any)
			if len(elems) == 0 || len(elems) > maxContextElems {
				err = fmt.Errorf("%d context elements", len(elems))
			}
			for _, e := range elems {
				if err == nil {
					err = checkText(e, maxSectionText)
				}
			}
		case "actions":
			err = checkActions(b["elements"])
		}
		if err != nil {
			return fmt.Errorf("block %d (%v): %w", i, b["type"], err)
		}
	}
	return nil
}

func checkActions(v any) error {
	elems, _ := v.([]any)
	if len(elems) == 0 || len(elems) > maxActionsElems {
		return fmt.Errorf("%d action elements", len(elems))
	}
	actionIDs := map[string]bool{}
	for _, e := range elems {
		el, _ := e.(map[string]any)
		if el["type"] != "button" {
			continue
		}
		id, _ := el["action_id"].(string)
		if utf8.RuneCountInString(id) > maxActionID || (id != "" && actionIDs[id]) {
			return fmt.Errorf("action_id %q too long or repeated", id)
		}
		actionIDs[id] = true
		if val, _ := el["value"].(string); utf8.RuneCountInString(val) > maxButtonValue {
			return fmt.Errorf("button value of %d characters", utf8.RuneCountInString(val))
		}
		if err := checkText(el["text"], maxButtonText); err != nil {
			return fmt.Errorf("button: %w", err)
		}
		if c, ok := el["confirm"].(map[string]any); ok {
			for field, limit := range map[string]int{"title": maxConfirmTitle, "text": maxConfirmText, "confirm": maxConfirmButton, "deny": maxConfirmButton} {
				if err := checkText(c[field], limit); err != nil {
					return fmt.Errorf("confirm %s: %w", field, err)
				}
			}
		}
	}
	return nil
}

// checkText checks a text object: a type and a text of 1 to limit characters.
func checkText(v any, limit int) error {
	t, ok := v.(map[string]any)
	if !ok {
		return nil // a section may have fields instead; not checked
	}
	s, _ := t["text"].(string)
	if n := utf8.RuneCountInString(s); n == 0 || n > limit {
		return fmt.Errorf("text of %d characters, limit %d", n, limit)
	}
	if typ := t["type"]; typ != "plain_text" && typ != "mrkdwn" {
		return fmt.Errorf("text type %v", typ)
	}
	return nil
}
