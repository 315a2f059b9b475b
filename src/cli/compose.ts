export const composeCommand = null as never;
