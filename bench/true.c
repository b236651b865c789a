/* The job of the per-job overhead benchmark: exits 0 at once. Linked
 * statically so that the bare run and the sandboxed run exec the very same
 * file, with no dynamic loader work inside or outside the sandbox. */
int main(void)
{
    return 0;
}
