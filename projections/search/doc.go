// Package search is the read model technicians find customers with: a query of
// at least four characters matches anywhere inside a name (person or business),
// any email, any phone number (on its digits) or any street address, case- and
// accent-insensitively. Results are one entry per customer address, ranked exact
// (a whole value equals the query), then prefix (a word starts with it), then
// infix, by customer number within a rank, each naming the field that matched.
//
// Plain Redis structures (no modules), sized for a million customers in about a
// kilobyte each. Every indexed value is folded (textkey.Fold; phones to their
// digits) and cut into grams, its 4-byte windows. A posting is a Redis string of
// sorted, distinct entries (4 bytes each, big-endian), one for each customer of
// one range of numbers (65,536 by default: Projector.RangeBits) and field
// (name, email, phone, street) whose values hold a gram: the customer's number
// shifted left two bits, or'ed with the field. Entries sort as customers do,
// and a query's postings intersect only where one field holds all its grams
// (a first name's grams do not make a street a candidate). The families:
//
//	g:<gram><range>       the gram anywhere in a value
//	s:<gram><range>       the gram where a word starts (a value's start, or after a separator)
//	t:<gram><range>       the gram one byte after a word starts
//	x:<gram><len><range>  a value of that length (a byte, 255 for longer) ends with the gram
//	p<family>:<gram>[len] a bitmap of the ranges where that posting exists (bit r, SETBIT's order)
//	d:<ref>               the customer's searchable state and display payload (doccodec.go)
//	r:<bucket>            customer id → number, for the projector (a small hash per bucket)
//	m                     the layout: the range width and the highest entry
//
// where <range> is the range's index in two bytes. Ranges bound what an edit
// rewrites (a posting of one range, not of every customer with the gram) and
// what a search reads of a posting at a time.
//
// A value that matches a query holds every gram of it, so each posting of the
// query's grams holds the entries of its matches. Ranks are read one after the
// other with the families that narrow them: exact from x and s (a value as long
// as the query that ends and starts like it), prefix from s and t, infix from g. In
// each, a search walks the ranges in order, skipping without a probe those where
// a posting's presence bitmap says it is absent; in each range the shortest posting
// drives, Redis cuts the next shortest ones to the span of its numbers, and the
// client intersects them (query.go) and verifies each candidate against its
// doc, which also tells the entry's rank and field; an entry is emitted only in
// its best rank. Pages end at a (rank, customer, address) cursor, so a first
// page reads a few chunks whatever the number of matches.
//
// Postings are shared by every customer of the range with the gram, so the
// index costs a few bytes per gram a customer holds, where a sorted-set member
// per suffix cost a hundred. New customers have the highest numbers and are
// appended; an edit rewrites only the postings, in its customer's range, of
// grams it adds or removes (postings.go).
package search
