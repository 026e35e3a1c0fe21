package changes

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxNesting bounds how deeply a configuration file may nest. Real configurations stay far
// below it; hclsyntax parses recursively, and some 100,000 levels ("((((...", "!!!!...",
// "a ? b : c ? ...", "x[*][*]...", blocks in blocks) overflow the goroutine stack, a fatal
// error that takes the whole runner down. The bound also keeps the AST shallow for VisitAll.
const maxNesting = 256

// nestFrame is an open bracket, quote, heredoc or template sequence.
type nestFrame struct {
	close hclsyntax.TokenType // the token that ends it
	ops   int                 // operators and closed groups chained in the expression being read
	lines bool                // a newline ends an expression here (bodies, object constructors)
	flat  bool                // a template: its ${...} and %{...} sequences follow each other, unnested
}

// checkNesting estimates, from the tokens alone, how deep the parser will recurse for src and
// rejects files over maxNesting. The estimate counts each open group plus, within it, each
// operator and each closed group chained into one expression (a comma, or a newline where
// newlines end expressions, starts the next one), plus open %{if}/%{for} directives. The
// scanner is iterative, so lexing is safe whatever src holds.
func checkNesting(src []byte, rel string) error {
	tokens, _ := hclsyntax.LexConfig(src, rel, hcl.InitialPos)
	stack := []nestFrame{{lines: true}} // the file's top level, never popped
	ops, directives := 0, 0             // sums over stack of ops, and open directives
	for i, t := range tokens {
		top := &stack[len(stack)-1]
		switch t.Type {
		case hclsyntax.TokenOBrace:
			// {for ...} is newline-insensitive; other braces are block bodies or objects.
			stack = append(stack, nestFrame{close: hclsyntax.TokenCBrace, lines: !nextIdent(tokens, i, "for")})
		case hclsyntax.TokenOBrack:
			stack = append(stack, nestFrame{close: hclsyntax.TokenCBrack})
		case hclsyntax.TokenOParen:
			stack = append(stack, nestFrame{close: hclsyntax.TokenCParen})
		case hclsyntax.TokenOQuote:
			stack = append(stack, nestFrame{close: hclsyntax.TokenCQuote, flat: true})
		case hclsyntax.TokenOHeredoc:
			stack = append(stack, nestFrame{close: hclsyntax.TokenCHeredoc, flat: true})
		case hclsyntax.TokenTemplateInterp:
			stack = append(stack, nestFrame{close: hclsyntax.TokenTemplateSeqEnd})
		case hclsyntax.TokenTemplateControl:
			stack = append(stack, nestFrame{close: hclsyntax.TokenTemplateSeqEnd})
			switch {
			case nextIdent(tokens, i, "if"), nextIdent(tokens, i, "for"):
				directives++
			case directives > 0 && (nextIdent(tokens, i, "endif") || nextIdent(tokens, i, "endfor")):
				directives--
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			// A closer that does not match is the parser's error to report; ignoring it keeps
			// the estimate from going down.
			if len(stack) > 1 && top.close == t.Type {
				ops -= top.ops
				stack = stack[:len(stack)-1]
				if parent := &stack[len(stack)-1]; !parent.flat {
					parent.ops++ // x[*][*]... and f(a)(b)... chain too
					ops++
				}
			}
		case hclsyntax.TokenComma:
			ops -= top.ops
			top.ops = 0
		case hclsyntax.TokenNewline:
			if top.lines {
				ops -= top.ops
				top.ops = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan,
			hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang,
			hclsyntax.TokenQuestion, hclsyntax.TokenDoubleColon:
			top.ops++
			ops++
		}
		if n := len(stack) + ops + directives; n > maxNesting {
			return fmt.Errorf("%s:%d: expressions or blocks nest deeper than %d levels, not read", rel, t.Range.Start.Line, maxNesting)
		}
	}
	return nil
}

// nextIdent reports whether the first token after tokens[i], newlines and comments aside, is the identifier word.
func nextIdent(tokens hclsyntax.Tokens, i int, word string) bool {
	for _, t := range tokens[i+1:] {
		switch t.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			continue
		case hclsyntax.TokenIdent:
			return string(t.Bytes) == word
		}
		return false
	}
	return false
}
