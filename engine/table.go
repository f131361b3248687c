package engine

import (
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// textTable lines up columns by the width a terminal shows, so colour codes in a cell
// (which take no room on screen) do not push the rest of its row out of line, as they do
// with text/tabwriter, which counts their bytes.
type textTable struct{ rows [][]string }

func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the rows, columns gap spaces apart; the last cell of a row is not padded.
func (t *textTable) write(w io.Writer, gap int) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(c))
		}
	}
	var b, line strings.Builder
	for _, r := range t.rows {
		line.Reset()
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(c)+gap))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ")) // an empty last cell leaves no padding
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ansiCSI matches the terminal control sequences a cell may hold (colours: ESC [ … m).
var ansiCSI = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// visibleWidth is the number of characters s shows on a terminal: its runes without its
// control sequences.
func visibleWidth(s string) int {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansiCSI.ReplaceAllString(s, "")
	}
	return utf8.RuneCountInString(s)
}
