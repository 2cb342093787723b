/* The one way a check suite's main() ends: run it, report, and exit 0
 * only if every test passed; and a suite's test cases as a table. */
#ifndef TREECAST_CHECK_RUN_H
#define TREECAST_CHECK_RUN_H

#include <check.h>
#include <stddef.h>
#include <stdlib.h>

static inline int
check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define CHECK_CASE_TESTS	32

/* A test run loops times, _i from 0 to loops - 1. */
struct check_loop {
	const TTest	*test;
	int		 loops;
};

/* One row of a suite's table, a test case, with designated initializers. */
struct check_case {
	const char	*name;
	void		(*setup)(void);	/* NULL: no fixture */
	void		(*teardown)(void);
	int		 unchecked;	/* fixture once, not per test */
	int		 timeout;	/* seconds; 0: check's default */
	const TTest	*tests[CHECK_CASE_TESTS];	/* to a NULL */
	struct check_loop loops[4];		/* to a NULL test */
};

/* Runs the suite name made of the n cases: check_run's exit status.
 * (TTest names are pointers, not constants: the table is main's own.) */
static inline int
check_run_cases(const char *name, const struct check_case *cases, size_t n)
{
	const struct check_loop *l;
	const TTest *const *t;
	Suite *s = suite_create(name);
	TCase *tc;
	size_t i;

	for (i = 0; i < n; i++) {
		tc = tcase_create(cases[i].name);
		if (cases[i].setup != NULL && cases[i].unchecked)
			tcase_add_unchecked_fixture(tc, cases[i].setup,
			    cases[i].teardown);
		else if (cases[i].setup != NULL)
			tcase_add_checked_fixture(tc, cases[i].setup,
			    cases[i].teardown);
		if (cases[i].timeout > 0)
			tcase_set_timeout(tc, cases[i].timeout);
		for (t = cases[i].tests; *t != NULL; t++)
			tcase_add_test(tc, *t);
		for (l = cases[i].loops; l->test != NULL; l++)
			tcase_add_loop_test(tc, l->test, 0, l->loops);
		suite_add_tcase(s, tc);
	}
	return check_run(s);
}

#endif
