/*
 * A program with macros of its own, named as programs commonly name them
 * (and as the Rust core names constants of its own), defined before it
 * includes criu.h. Built with -Wall -Werror by tests/header.rs: a criu.h
 * that defines any of them again fails the build ("redefined"), and one
 * that undefines or changes them fails the assertion.
 */
#define MAX_PATH 1
#define PAGE_SIZE 2
#define DEFAULT_LIMIT 3
#define MAX_ENTRIES 4
#define MAX_ENTRY 5
#define MAX_IMAGE 6
#define PSTREE_MAGIC 7
#define INVENTORY_MAGIC 8

#include "criu.h"

_Static_assert(MAX_PATH == 1 && PAGE_SIZE == 2 && DEFAULT_LIMIT == 3 && MAX_ENTRIES == 4 && MAX_ENTRY == 5 &&
		       MAX_IMAGE == 6 && PSTREE_MAGIC == 7 && INVENTORY_MAGIC == 8,
	       "criu.h changed the program's own macros");

int main(void)
{
	return criu_check() == 0 ? 0 : 1;
}
