/* The x87's transcendental instructions in software (x87_math.c), for x87.c.
 *
 * Results are computed with about 125 significant bits and rounded once to 64 bits with the
 * control word's RC: nearly always the correctly rounded value, while the hardware's own are
 * within about an ulp of it, so the two agree to an ulp rather than bit for bit.  Argument
 * reduction for fsin, fcos, fsincos and fptan uses the hardware's 66-bit pi, as it does, so that
 * large arguments give what the hardware gives, not the true values. */
#ifndef XLATE_X87_MATH_H
#define XLATE_X87_MATH_H

#include "f80.h"

/* f2xm1: 2^x - 1 (the hardware defines it for -1 <= x <= 1). */
xlate_f80 xlate_x87_f2xm1(xlate_f80 x, xlate_f80_env *env);
/* fyl2x: y * log2(x). */
xlate_f80 xlate_x87_fyl2x(xlate_f80 x, xlate_f80 y, xlate_f80_env *env);
/* fyl2xp1: y * log2(x + 1) (defined for |x| < 1 - sqrt(2) / 2). */
xlate_f80 xlate_x87_fyl2xp1(xlate_f80 x, xlate_f80 y, xlate_f80_env *env);
/* fpatan: the angle of (x, y), atan2(y, x). */
xlate_f80 xlate_x87_fpatan(xlate_f80 x, xlate_f80 y, xlate_f80_env *env);
/* fsin, fcos, fsincos, fptan: the results wanted (a null pointer for the others).  Returns 1,
 * computing nothing, when |x| >= 2^63: the instruction then sets C2 and leaves x alone. */
int xlate_x87_trig(xlate_f80 x, xlate_f80 *sin, xlate_f80 *cos, xlate_f80 *tan,
                   xlate_f80_env *env);

#endif
