/* An MPI program that only initialises and finalises: the floor of any MPI job's start-up. */
#include <mpi.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Finalize();
    return 0;
}
