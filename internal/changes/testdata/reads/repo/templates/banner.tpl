Welcome to ${env}
