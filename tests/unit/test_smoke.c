#include <criterion/criterion.h>
#include "model.h"
Test(util, prefix_parse) {
	struct xnsg_prefix p; bool hb;
	cr_assert_eq(prefix_parse("10.1.2.3/8", &p, &hb), 0, "10.1.2.3/8 parses");
	cr_assert(hb, "host bits reported");
}
