/** The little of jStat (npm `jstat`, which ships no types) the benchmark's statistics use. */
declare module 'jstat' {
  export const jStat: {
    studentt: {
      /** The quantile of Student's t distribution with `dof` degrees of freedom at probability `p`. */
      inv(p: number, dof: number): number;
    };
  };
}
