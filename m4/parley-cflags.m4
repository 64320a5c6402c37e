# PARLEY_CHECK_CFLAG(FLAG, ACTION-IF-OK, ACTION-IF-NOT, EXTRA-FLAGS)
# Does the C compiler accept FLAG (with EXTRA-FLAGS, e.g. -Werror)?
AC_DEFUN([PARLEY_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	parley_save_CFLAGS="$CFLAGS"
	CFLAGS="$CFLAGS $4 $1"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
		[AC_MSG_RESULT([yes]); $2],
		[AC_MSG_RESULT([no]); $3])
	CFLAGS="$parley_save_CFLAGS"
])
