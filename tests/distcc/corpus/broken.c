/* A compile error on purpose: the distcc test checks that the compiler's
 * message and exit status reach the client unchanged. */
int broken(int x)
{
    return x + undeclared_identifier;
}
