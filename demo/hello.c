/* hello.c - the demo program: preprocessed on the host, compiled inside the
 * cachepot-dist-sandbox, linked and run on the host again. */
#include <stdio.h>

#define COUNT 10

static int is_prime(unsigned n)
{
    if (n < 2)
        return 0;
    for (unsigned d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

int main(void)
{
    unsigned found = 0;

    printf("hello from a program compiled in the sandbox; the first %d primes:", COUNT);
    for (unsigned n = 2; found < COUNT; n++) {
        if (is_prime(n)) {
            printf(" %u", n);
            found++;
        }
    }
    printf("\n");
    return 0;
}
