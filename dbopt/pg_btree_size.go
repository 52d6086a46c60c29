package dbopt

import "math"

// hypopg sizes a hypothetical B-tree as if every row had its own leaf
// tuple, so since PostgreSQL 13, whose B-trees keep one posting list per
// run of equal keys, it can overstate an index on a column with few
// values several times over (an int column with 50 values: 52 MB
// estimated, 14 MB built). A budget compared with such figures refuses
// indexes that fit. btreeSize estimates the built size from the layout
// instead: leaf tuples of the key's average width, posting lists where
// deduplication applies, leaf pages filled to the default fillfactor
// while CREATE INDEX builds them, and the inner levels above.

// B-tree layout constants of PostgreSQL (nbtree.h, bufpage.h).
const (
	pgPage           = 8192
	pgPageOverhead   = 24 + 16 // page header and B-tree special space
	btreeFill        = 0.90    // BTREE_DEFAULT_FILLFACTOR for leaf pages
	indexTupleHeader = 8       // IndexTupleData: heap TID and info
	lineItem         = 4       // ItemIdData per tuple
	heapTID          = 6       // one ItemPointerData in a posting list
	// maxPostingBytes is the size a posting-list tuple grows to before
	// deduplication starts another: half of BTMaxItemSize.
	maxPostingBytes = 1352
	// innerShare is what the inner pages and the metapage add to the leaf
	// level; with hundreds of downlinks per inner page it is about 1 %.
	innerShare = 0.01
)

// btreeShape is what the estimate needs of an index: the rows it holds,
// the average width of its key and of its INCLUDE columns, the distinct
// keys among the rows and whether deduplication applies.
type btreeShape struct {
	rows, keyWidth, includeWidth, distinct float64
	dedup                                  bool
}

func align8(n float64) float64 { return math.Ceil(n/8) * 8 }

// btreeSize returns the estimated bytes of a B-tree built over s.
func btreeSize(s btreeShape) int64 {
	if s.rows <= 0 {
		return pgPage * 2 // the metapage and one empty leaf
	}
	plain := align8(indexTupleHeader+s.keyWidth+s.includeWidth) + lineItem
	perRow := plain
	if dups := s.rows / max(s.distinct, 1); s.dedup && s.includeWidth == 0 && dups >= 2 {
		// A run of d equal keys is one tuple with d TIDs, split into
		// tuples of at most maxPostingBytes.
		perTuple := max(1, math.Floor((maxPostingBytes-indexTupleHeader-s.keyWidth)/heapTID))
		d := min(dups, perTuple)
		perRow = min(plain, (align8(indexTupleHeader+s.keyWidth+heapTID*d)+lineItem)/d)
	}
	leaves := math.Ceil(s.rows * perRow / ((pgPage - pgPageOverhead) * btreeFill))
	return int64(math.Ceil(leaves*(1+innerShare))+1) * pgPage
}
