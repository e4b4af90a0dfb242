/*
 * kk_rand: the one pseudo-random generator of the tree, splitmix64
 * (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014; Vigna's reference splitmix64.c, the seeder of xoshiro).
 *
 * One 64-bit state, full period 2^64, any seed (0 included) gives mixed
 * bits. The state belongs to the caller: one state per task, derived from
 * the run seed and the task index, so results never depend on threads or
 * scheduling. Nothing here is global, nothing allocates; thread-safe as long
 * as a state is not shared.
 *
 * What callers build on top (uniform floats, bounded integers, Gaussians)
 * stays with the caller: each one's exact bit use is part of the outputs
 * that callers' tests and evidence pin.
 */
#ifndef KK_RAND_H
#define KK_RAND_H

#include <stdint.h>

/* Advances *state by the golden-ratio increment 0x9e3779b97f4a7c15 and
 * returns the mixed (finalised) new state. From state 0 the first outputs
 * are 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4. */
uint64_t kk_splitmix64(uint64_t *state);

#endif /* KK_RAND_H */
