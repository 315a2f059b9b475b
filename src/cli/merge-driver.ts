export const mergeDriverCommand = null as never;
